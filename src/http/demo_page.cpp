#include "http/demo_page.hpp"

#include "core/hashing.hpp"
#include "http/etag_match.hpp"
#include "http/request_target.hpp"
#include "s3/error_xml.hpp"
#include "web/embedded.hpp"

namespace audiodrop::http {
namespace {

constexpr std::string_view kBare = "/demo";
constexpr std::string_view kPage = "/demo/";
constexpr std::string_view kScript = "/demo/demo.js";

// The page keeps its CSS in <style> blocks and uses no style attributes: each block is
// allowed by the hash of its text (CSP Level 3 "hash-source"), and nothing else inline.
std::string style_hashes(std::string_view html) {
    constexpr std::string_view kOpen = "<style>";
    constexpr std::string_view kClose = "</style>";
    std::string out;
    for (auto at = html.find(kOpen); at != std::string_view::npos; at = html.find(kOpen, at)) {
        const auto start = at + kOpen.size();
        const auto end = html.find(kClose, start);
        if (end == std::string_view::npos) break;
        out +=
            " 'sha256-" + core::base64_encode(core::sha256(html.substr(start, end - start))) + "'";
        at = end + kClose.size();
    }
    return out;
}

std::string security_policy(std::string_view html, const std::string& storage_origin) {
    const std::string storage = storage_origin.empty() ? "'self'" : storage_origin;
    // 'wasm-unsafe-eval' compiles WebAssembly, not strings: the client hashes parts with
    // hash-wasm's MD5. Parts go to the storage origin and the player streams from it.
    return "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'" +
           style_hashes(html) + "; connect-src 'self' " + storage + "; media-src " + storage +
           "; object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";
}

}  // namespace

DemoAssets embedded_demo_assets() { return DemoAssets{web::demo_html(), web::demo_js()}; }

DemoPage::DemoPage(DemoAssets assets, const DemoPageOptions& options) {
    std::string html(assets.html);
    // An XML attribute value's escapes are an HTML one's too (&apos; included, in HTML5).
    const std::string base = s3::xml_escape(options.base_path);
    for (auto at = html.find(kDemoApiBaseMarker); at != std::string::npos;
         at = html.find(kDemoApiBaseMarker, at + base.size())) {
        html.replace(at, kDemoApiBaseMarker.size(), base);
    }
    security_policy_ = security_policy(html, options.storage_origin);
    html_ = make_asset(std::move(html), "text/html; charset=utf-8");
    script_ = make_asset(std::string(assets.script), "text/javascript; charset=utf-8");
}

bool DemoPage::serves(std::string_view path) {
    return path == kBare || path == kPage || path == kScript;
}

DemoPage::Asset DemoPage::make_asset(std::string body, std::string content_type) {
    auto etag = "\"" + core::to_hex(core::sha256(body)).substr(0, 32) + "\"";
    return Asset{std::move(body), std::move(content_type), std::move(etag)};
}

StringResponse DemoPage::answer(const RequestHeader& request) const {
    const auto target = split_target(request.target());
    if (target.path == kPage) return send_asset(request, html_);
    if (target.path == kScript) return send_asset(request, script_);
    // The bare /demo: the page's relative URL of its script needs the slash.
    StringResponse res{bhttp::status::moved_permanently, 11};
    res.set(bhttp::field::location,
            std::string(kPage) + (target.query.empty() ? "" : "?" + std::string(target.query)));
    return res;
}

StringResponse DemoPage::send_asset(const RequestHeader& request, const Asset& asset) const {
    StringResponse res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, asset.content_type);
    // Revalidated on every load, so a new build shows at once; the ETag keeps it cheap.
    res.set(bhttp::field::cache_control, "no-cache");
    res.set(bhttp::field::etag, asset.etag);
    res.set("X-Content-Type-Options", "nosniff");
    // The token is in the fragment, which browsers never send; nor should they send the
    // page's URL to the storage endpoint.
    res.set("Referrer-Policy", "no-referrer");
    res.set("Content-Security-Policy", security_policy_);
    // HEAD and 304 give the length a GET would send (RFC 9110 §8.6), and no body.
    res.content_length(asset.body.size());
    if (if_none_match_hits(request[bhttp::field::if_none_match], asset.etag)) {
        res.result(bhttp::status::not_modified);
    } else if (request.method() != bhttp::verb::head) {
        res.body() = asset.body;
    }
    return res;
}

}  // namespace audiodrop::http
