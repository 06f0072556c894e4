#include "http/demo_page.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace audiodrop::http {
namespace {

constexpr std::string_view kHtml =
    "<!doctype html><html><head>"
    "<meta name=\"audiodrop-api-base\" content=\"__AUDIODROP_API_BASE__\">"
    "<style>p { color: red }</style>"
    "<script type=\"module\" src=\"demo.js\"></script></head><body></body></html>";
constexpr std::string_view kScript = "console.log('demo');";
// base64(sha256("p { color: red }")), computed apart (Python's hashlib).
constexpr std::string_view kStyleHash = "'sha256-ngewhhP73WDIbgwseeu52VAAJgKdGUsu1IUQQsAm8m4='";

DemoPage page(std::string base_path = "/developer/api") {
    return DemoPage(DemoAssets{kHtml, kScript},
                    DemoPageOptions{std::move(base_path), "http://127.0.0.1:8081"});
}

RequestHeader request(std::string_view target, bhttp::verb verb = bhttp::verb::get) {
    RequestHeader req;
    req.method(verb);
    req.target(target);
    return req;
}

TEST(DemoPage, ServesThePageItsScriptAndTheBarePathOnly) {
    for (const char* path : {"/demo", "/demo/", "/demo/demo.js"}) {
        EXPECT_TRUE(DemoPage::serves(path)) << path;
    }
    for (const char* path : {"/demo/x", "/demo/demo.js/", "/demo//", "/demox", "/", "/Demo/",
                             "/demo/index.html", "/developer/api/demo/"}) {
        EXPECT_FALSE(DemoPage::serves(path)) << path;
    }
}

TEST(DemoPage, ThePageCarriesTheBasePathAndItsSecurityHeaders) {
    const auto res = page().answer(request("/demo/?from=test"));
    EXPECT_EQ(res.result(), bhttp::status::ok);
    EXPECT_EQ(res[bhttp::field::content_type], "text/html; charset=utf-8");
    EXPECT_NE(res.body().find("content=\"/developer/api\""), std::string::npos) << res.body();
    EXPECT_EQ(res.body().find("__AUDIODROP_API_BASE__"), std::string::npos);
    EXPECT_EQ(res[bhttp::field::cache_control], "no-cache");
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
    EXPECT_EQ(res["Referrer-Policy"], "no-referrer");
    const std::string csp(res["Content-Security-Policy"]);
    const std::vector<std::string> wanted = {"default-src 'self'",
                                             "script-src 'self' 'wasm-unsafe-eval';",
                                             "style-src 'self' " + std::string(kStyleHash) + ";",
                                             "connect-src 'self' http://127.0.0.1:8081;",
                                             "media-src http://127.0.0.1:8081;",
                                             "frame-ancestors 'none'"};
    for (const auto& want : wanted) {
        EXPECT_NE(csp.find(want), std::string::npos) << want << " not in " << csp;
    }
    EXPECT_EQ(csp.find("unsafe-inline"), std::string::npos) << csp;
    EXPECT_EQ(res[bhttp::field::content_length], std::to_string(res.body().size()));
}

TEST(DemoPage, TheBasePathIsEscapedForTheAttribute) {
    const auto res = page("/a\"b<c>&'d").answer(request("/demo/"));
    EXPECT_NE(res.body().find("content=\"/a&quot;b&lt;c&gt;&amp;&apos;d\""), std::string::npos)
        << res.body();
}

TEST(DemoPage, TheScriptIsJavaScript) {
    const auto res = page().answer(request("/demo/demo.js"));
    EXPECT_EQ(res.result(), bhttp::status::ok);
    EXPECT_EQ(res[bhttp::field::content_type], "text/javascript; charset=utf-8");
    EXPECT_EQ(res.body(), kScript);
    EXPECT_EQ(res["X-Content-Type-Options"], "nosniff");
}

TEST(DemoPage, TheBarePathRedirectsToTheSlashKeepingTheQuery) {
    const auto bare = page().answer(request("/demo"));
    EXPECT_EQ(bare.result(), bhttp::status::moved_permanently);
    EXPECT_EQ(bare[bhttp::field::location], "/demo/");
    const auto with_query = page().answer(request("/demo?x=1"));
    EXPECT_EQ(with_query[bhttp::field::location], "/demo/?x=1");
}

TEST(DemoPage, HeadGivesTheLengthWithoutTheBody) {
    const auto get = page().answer(request("/demo/"));
    const auto head = page().answer(request("/demo/", bhttp::verb::head));
    EXPECT_EQ(head.result(), bhttp::status::ok);
    EXPECT_TRUE(head.body().empty());
    EXPECT_EQ(head[bhttp::field::content_length], std::to_string(get.body().size()));
    EXPECT_EQ(head[bhttp::field::etag], get[bhttp::field::etag]);
}

TEST(DemoPage, AMatchingIfNoneMatchIsAnswered304) {
    const auto first = page().answer(request("/demo/"));
    const std::string etag(first[bhttp::field::etag]);
    ASSERT_GE(etag.size(), 3u);
    EXPECT_EQ(etag.front(), '"');
    EXPECT_EQ(etag.back(), '"');
    const std::vector<std::string> matching = {etag, "W/" + etag, "\"other\", " + etag, "*"};
    for (const auto& header : matching) {
        auto req = request("/demo/");
        req.set(bhttp::field::if_none_match, header);
        const auto res = page().answer(req);
        EXPECT_EQ(res.result(), bhttp::status::not_modified) << header;
        EXPECT_TRUE(res.body().empty());
        EXPECT_EQ(res[bhttp::field::etag], etag);
        EXPECT_EQ(res[bhttp::field::cache_control], "no-cache");
    }
    auto stale = request("/demo/");
    stale.set(bhttp::field::if_none_match, "\"0123\"");
    EXPECT_EQ(page().answer(stale).result(), bhttp::status::ok);
}

TEST(DemoPage, EachPathHasItsOwnETagAndTheBasePathChangesThePagesOne) {
    const auto html = page().answer(request("/demo/"));
    const auto script = page().answer(request("/demo/demo.js"));
    const auto other_base = page("/api").answer(request("/demo/"));
    EXPECT_NE(html[bhttp::field::etag], script[bhttp::field::etag]);
    EXPECT_NE(html[bhttp::field::etag], other_base[bhttp::field::etag]);
}

// The page the build embedded: what the server fills in and what its CSP allows.
TEST(EmbeddedDemoAssets, ThePageHasTheMarkerAndOnlyItsOwnScript) {
    const auto assets = embedded_demo_assets();
    const std::string_view html = assets.html;
    EXPECT_NE(html.find(kDemoApiBaseMarker), std::string_view::npos);
    EXPECT_NE(html.find("<script type=\"module\" src=\"demo.js\"></script>"),
              std::string_view::npos);
    // No inline script and no style attribute: the CSP allows neither.
    EXPECT_EQ(html.find("<script>"), std::string_view::npos);
    EXPECT_EQ(html.find(" style=\""), std::string_view::npos);
    EXPECT_NE(html.find("id=\"file\""), std::string_view::npos);
    EXPECT_GT(assets.script.size(), 1000u);
}

}  // namespace
}  // namespace audiodrop::http
