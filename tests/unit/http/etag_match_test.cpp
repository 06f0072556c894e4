#include "http/etag_match.hpp"

#include <gtest/gtest.h>

#include <initializer_list>
#include <string_view>

namespace audiodrop::http {
namespace {

constexpr std::string_view kETag = "\"0f3a9c\"";

void expect_each(bool hits, std::initializer_list<std::string_view> headers) {
    for (const auto header : headers) {
        EXPECT_EQ(if_none_match_hits(header, kETag), hits) << "If-None-Match: " << header;
    }
}

TEST(IfNoneMatchHits, TheETagAloneOrAnywhereInAList) {
    expect_each(
        true, {"\"0f3a9c\"", "\"1\", \"0f3a9c\"", "\"0f3a9c\",\"1\"", "\"1\" ,\t\"0f3a9c\" , \"2\"",
               // Empty list elements count for nothing (RFC 9110 §5.6.1.2).
               ", ,\"0f3a9c\","});
}

TEST(IfNoneMatchHits, AStarMatchesAnyRepresentation) {
    expect_each(true, {"*", " * ", "\"1\", *"});
}

TEST(IfNoneMatchHits, ComparesWeakly) {
    expect_each(true, {"W/\"0f3a9c\"", "\"1\", W/\"0f3a9c\""});
}

TEST(IfNoneMatchHits, TheWeakPrefixIsAnUppercaseWBeforeAQuotedTag) {
    expect_each(false, {"w/\"0f3a9c\"", "W/W/\"0f3a9c\"", "W/*", "W/ \"0f3a9c\""});
}

TEST(IfNoneMatchHits, OtherTagsDoNot) {
    expect_each(false, {"", " ", ",", "\"0f3a9d\"", "\"0F3A9C\"", "0f3a9c", "\"0f3a9c", "0f3a9c\"",
                        "\"0f3a9c\"x", "\"\"", "**", "\"1\", \"2\"", "\"0f3a9c\" \"1\""});
}

}  // namespace
}  // namespace audiodrop::http
