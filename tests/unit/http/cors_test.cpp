#include "http/cors.hpp"

#include <gtest/gtest.h>

namespace audiodrop::http {
namespace {

TEST(CorsOrigins, ExactOriginsMatchAsBrowsersSendThem) {
    auto origins = CorsOrigins::parse("https://App.Example.com, http://127.0.0.1:3000");
    ASSERT_TRUE(origins.has_value()) << origins.error().message;
    EXPECT_EQ(origins->allow("https://app.example.com"), "https://app.example.com");
    EXPECT_EQ(origins->allow("http://127.0.0.1:3000"), "http://127.0.0.1:3000");
    EXPECT_FALSE(origins->allow("http://127.0.0.1:3001"));
    EXPECT_FALSE(origins->allow("https://app.example.com.evil.com"));
    EXPECT_FALSE(origins->allow("null"));
    EXPECT_FALSE(origins->allow(""));
}

TEST(CorsOrigins, AStarAllowsEveryOrigin) {
    auto origins = CorsOrigins::parse("*");
    ASSERT_TRUE(origins.has_value());
    EXPECT_EQ(origins->allow("https://anything.example"), "*");
    EXPECT_FALSE(origins->empty());
}

TEST(CorsOrigins, AnEmptyListAllowsNone) {
    auto origins = CorsOrigins::parse(" , ");
    ASSERT_TRUE(origins.has_value());
    EXPECT_TRUE(origins->empty());
    EXPECT_FALSE(origins->allow("https://app.example.com"));
}

TEST(CorsOrigins, WhatIsNotAnOriginIsRefusedByName) {
    for (const char* bad : {"app.example.com", "https://app.example.com/path", "ftp://x",
                            "https://", "https://a b", "*.example.com"}) {
        auto origins = CorsOrigins::parse(std::string("https://ok.example,") + bad);
        ASSERT_FALSE(origins.has_value()) << bad;
        EXPECT_EQ(origins.error().code, "invalid_origin");
        EXPECT_NE(origins.error().message.find(bad), std::string::npos) << origins.error().message;
    }
}

TEST(CorsOrigins, AnAddedOriginIsAllowedBesideTheListedOnes) {
    auto origins = CorsOrigins::parse("https://app.example.com");
    ASSERT_TRUE(origins.has_value());
    origins->add("HTTP://127.0.0.1:8080");
    EXPECT_EQ(origins->allow("http://127.0.0.1:8080"), "http://127.0.0.1:8080");
    EXPECT_EQ(origins->allow("https://app.example.com"), "https://app.example.com");
    EXPECT_FALSE(origins->allow("http://127.0.0.1:8081"));

    auto none = CorsOrigins::parse("");
    ASSERT_TRUE(none.has_value());
    none->add("http://127.0.0.1:8080");
    EXPECT_FALSE(none->empty());
}

// RFC 6454: what a browser sends as Origin for a page at that URL.
TEST(WebOrigin, IsTheSchemeAndHostAsBrowsersSendThem) {
    const std::pair<const char*, const char*> cases[] = {
        {"http://127.0.0.1:8080", "http://127.0.0.1:8080"},
        {"HTTPS://Upload.Example.com/developer/api", "https://upload.example.com"},
        {"https://upload.example.com:443/x?y#z", "https://upload.example.com"},
        {"http://example.com:80", "http://example.com"},
        {"http://example.com:443", "http://example.com:443"},
        {"http://[::1]:8080/a", "http://[::1]:8080"},
        {"example.com", ""},
    };
    for (const auto& [url, origin] : cases) EXPECT_EQ(web_origin(url), origin) << url;
}

}  // namespace
}  // namespace audiodrop::http
