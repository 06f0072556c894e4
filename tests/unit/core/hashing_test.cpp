#include "core/hashing.hpp"

#include <gtest/gtest.h>

namespace audiodrop::core {
namespace {

TEST(Hashing, Md5OfKnownStrings) {
    EXPECT_EQ(to_hex(md5("")), "d41d8cd98f00b204e9800998ecf8427e");
    EXPECT_EQ(to_hex(md5("The quick brown fox jumps over the lazy dog")),
              "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Hashing, IncrementalMd5EqualsOneShot) {
    Md5 h;
    h.update("The quick brown ");
    h.update("fox jumps over the lazy dog");
    EXPECT_EQ(to_hex(h.digest()), "9e107d9d372bb6826bd81d3542a419d6");
}

TEST(Hashing, Sha256AndHmacMatchRfc4231) {
    EXPECT_EQ(to_hex(sha256("abc")),
              "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    // RFC 4231 test case 2.
    EXPECT_EQ(to_hex(hmac_sha256(std::string_view("Jefe"), "what do ya want for nothing?")),
              "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(Hashing, Base64RoundTripsAndRejectsGarbage) {
    std::string out;
    ASSERT_TRUE(base64_decode("aGVsbG8=", out));
    EXPECT_EQ(out, "hello");
    EXPECT_FALSE(base64_decode("aGVsbG8", out));
    EXPECT_FALSE(base64_decode("a$==", out));
    ASSERT_TRUE(base64url_decode(base64url_encode("\xff\xfe?>"), out));
    EXPECT_EQ(out, "\xff\xfe?>");
}

TEST(Hashing, ConstantTimeEqualComparesWholeStrings) {
    EXPECT_TRUE(constant_time_equal("abc", "abc"));
    EXPECT_FALSE(constant_time_equal("abc", "abd"));
    EXPECT_FALSE(constant_time_equal("abc", "abcd"));
}

}  // namespace
}  // namespace audiodrop::core
