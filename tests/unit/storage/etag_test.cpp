#include "storage/etag.hpp"

#include <gtest/gtest.h>

namespace audiodrop::storage {
namespace {

// The expected values come from Python's hashlib over the same bytes.
TEST(MultipartEtag, IsTheMd5OfThePartDigestsAndTheCount) {
    EXPECT_EQ(multipart_etag({{1, "e09c80c42fda55f9d992e59ca6b3307d"},
                              {2, "92eb5ffee6ae2fec3ad71c777531578f"}}),
              "3192ca8a7eba2efb8c52f8e48729e5f1-2");
}

TEST(NormaliseEtag, DropsQuotesAndLowercases) {
    EXPECT_EQ(normalise_etag("\"9E107D9D372BB6826BD81D3542A419D6\""),
              "9e107d9d372bb6826bd81d3542a419d6");
    EXPECT_EQ(normalise_etag("abc"), "abc");
    EXPECT_EQ(normalise_etag("\""), "\"");  // one quote is not a quoted value
}

TEST(MultipartEtag, IsEmptyForAnEtagThatIsNotHex) {
    EXPECT_EQ(multipart_etag({{1, "not-an-md5"}}), "");
}

}  // namespace
}  // namespace audiodrop::storage
