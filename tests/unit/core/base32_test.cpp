#include <gtest/gtest.h>

#include <random>
#include <string>

#include "core/ids.hpp"

namespace audiodrop::core {
namespace {

constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";

std::string random_bytes_of(std::size_t size, std::mt19937& rng) {
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

// The character after `c` in the alphabet: its value plus one, so the lowest bit flips.
char next_in_alphabet(char c) { return kAlphabet[(kAlphabet.find(c) + 1) % kAlphabet.size()]; }

TEST(Base32, EncodesRfc4648VectorsInLowercaseWithoutPadding) {
    EXPECT_EQ(base32_encode(""), "");
    EXPECT_EQ(base32_encode("f"), "my");
    EXPECT_EQ(base32_encode("fo"), "mzxq");
    EXPECT_EQ(base32_encode("foo"), "mzxw6");
    EXPECT_EQ(base32_encode("foob"), "mzxw6yq");
    EXPECT_EQ(base32_encode("fooba"), "mzxw6ytb");
    EXPECT_EQ(base32_encode("foobar"), "mzxw6ytboi");
}

TEST(Base32, RandomBytesOfEveryLengthRoundTrip) {
    std::mt19937 rng(32);
    for (std::size_t size = 0; size <= 40; ++size) {
        for (int sample = 0; sample < 20; ++sample) {
            const std::string bytes = random_bytes_of(size, rng);
            const std::string text = base32_encode(bytes);
            SCOPED_TRACE(text);
            EXPECT_EQ(text.size(), (size * 8 + 4) / 5);
            EXPECT_EQ(text.find_first_not_of(kAlphabet), std::string::npos);
            EXPECT_EQ(base32_decode(text), bytes);
        }
    }
}

TEST(Base32, DecodeRefusesCharactersOutsideTheAlphabet) {
    for (char c : std::string("0189=-_/.+ \n\x7f\xff")) {
        std::string text = "mzxw6ytb";
        text[3] = c;
        EXPECT_FALSE(base32_decode(text).has_value()) << static_cast<int>(c);
    }
    EXPECT_FALSE(base32_decode(std::string("mzxw\0ytb", 8)).has_value());
}

TEST(Base32, DecodeRefusesUppercase) {
    EXPECT_FALSE(base32_decode("MZXW6YTB").has_value());
    EXPECT_FALSE(base32_decode("mzxW6ytb").has_value());
}

TEST(Base32, DecodeRefusesNonZeroPaddingBits) {
    EXPECT_FALSE(base32_decode("mz").has_value());  // "my" is "f"
    // Every length that leaves padding bits: flip the lowest, which is always one.
    std::mt19937 rng(5);
    for (std::size_t size = 1; size <= 40; ++size) {
        if (size % 5 == 0) continue;  // a whole number of characters: no padding bits
        std::string text = base32_encode(random_bytes_of(size, rng));
        text.back() = next_in_alphabet(text.back());
        EXPECT_FALSE(base32_decode(text).has_value()) << text;
    }
}

TEST(Base32, DecodeRefusesLengthsNoEncodingHas) {
    // 1, 3 and 6 characters (mod 8) hold five or more bits that make no byte.
    for (std::size_t length : {1u, 3u, 6u, 9u, 11u, 14u, 17u}) {
        EXPECT_FALSE(base32_decode(std::string(length, 'a')).has_value()) << length;
    }
}

TEST(Base32, NewIdsAreBase32Of128RandomBits) {
    for (int i = 0; i < 100; ++i) {
        const std::string id = new_id("mpu_");
        EXPECT_TRUE(looks_like_id(id, "mpu_")) << id;
        const auto bits = base32_decode(std::string_view(id).substr(4));
        ASSERT_TRUE(bits.has_value()) << id;
        EXPECT_EQ(bits->size(), 16u);
    }
}

}  // namespace
}  // namespace audiodrop::core
