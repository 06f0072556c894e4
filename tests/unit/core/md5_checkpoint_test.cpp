// Md5's saved state: the whole-file MD5 of an upload advances part by part and is
// resumed from a checkpoint after a restart, so a resumed hash must end exactly where
// an uninterrupted one does.

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>

#include "core/hashing.hpp"

namespace audiodrop::core {
namespace {

constexpr std::size_t kMiB = 1024 * 1024;

std::string random_text(std::size_t size, std::uint32_t seed) {
    std::mt19937 rng(seed);
    std::string out(size, '\0');
    for (auto& c : out) c = static_cast<char>(rng() & 0xff);
    return out;
}

// The input every split test hashes: longer than the largest split point.
const std::string& corpus() {
    static const std::string text = random_text(5 * kMiB + 4099, 20261201);
    return text;
}

// Hashes `text[0, split)`, saves the state, restores it and hashes the rest.
std::string hash_resumed_at(std::string_view text, std::size_t split) {
    Md5 before;
    before.update(text.substr(0, split));
    auto resumed = Md5::restore(before.checkpoint());
    EXPECT_TRUE(resumed.has_value()) << "split at " << split;
    if (!resumed) return {};
    resumed->update(text.substr(split));
    return to_hex(resumed->digest());
}

// hashing.cpp's layout: the tag "md5v1", then little-endian u32s: A B C D, the bit
// count (low word, high word), the pending block as 16 words, the pending-byte count.
constexpr std::size_t kBitCountAt = 5 + 4 * 4;

std::string with_u32_at(std::string checkpoint, std::size_t at, std::uint32_t value) {
    for (std::size_t i = 0; i < 4; ++i) {
        checkpoint[at + i] = static_cast<char>((value >> (8 * i)) & 0xff);
    }
    return checkpoint;
}

std::string with_pending_count(std::string checkpoint, std::uint32_t count) {
    const std::size_t at = checkpoint.size() - 4;
    return with_u32_at(std::move(checkpoint), at, count);
}

Md5 hashed(std::string_view text) {
    Md5 h;
    h.update(text);
    return h;
}

TEST(Md5Checkpoint, DigestLeavesTheStateAsItWas) {
    Md5 h;
    h.update("ab");
    EXPECT_EQ(to_hex(h.digest()), to_hex(md5("ab")));
    EXPECT_EQ(to_hex(h.digest()), to_hex(md5("ab")));  // a second look sees the same
    h.update("c");
    EXPECT_EQ(to_hex(h.digest()), "900150983cd24fb0d6963f7d28e17f72");
}

TEST(Md5Checkpoint, KnownVectorsSurviveACheckpoint) {
    auto empty = Md5::restore(Md5().checkpoint());
    ASSERT_TRUE(empty.has_value());
    EXPECT_EQ(to_hex(empty->digest()), "d41d8cd98f00b204e9800998ecf8427e");

    auto a = Md5::restore(hashed("a").checkpoint());
    ASSERT_TRUE(a.has_value());
    a->update("bc");
    EXPECT_EQ(to_hex(a->digest()), "900150983cd24fb0d6963f7d28e17f72");
}

class Md5CheckpointAt : public ::testing::TestWithParam<std::size_t> {};

TEST_P(Md5CheckpointAt, RestoredStateContinuesToTheUninterruptedDigest) {
    EXPECT_EQ(hash_resumed_at(corpus(), GetParam()), to_hex(md5(corpus())));
}

TEST_P(Md5CheckpointAt, RestoredStateCountsTheBytesHashedBeforeIt) {
    auto restored = Md5::restore(hashed(corpus().substr(0, GetParam())).checkpoint());
    ASSERT_TRUE(restored.has_value());
    EXPECT_EQ(restored->size(), GetParam());
}

INSTANTIATE_TEST_SUITE_P(ByteCounts, Md5CheckpointAt,
                         ::testing::Values(0, 1, 63, 64, 65, 127, 128, 5 * kMiB));

TEST(Md5Checkpoint, RandomSplitsAllContinueToTheSameDigest) {
    std::mt19937 rng(7);
    for (int round = 0; round < 200; ++round) {
        const std::string text = random_text(rng() % 3000, rng());
        const std::size_t split = text.empty() ? 0 : rng() % (text.size() + 1);
        SCOPED_TRACE("size " + std::to_string(text.size()) + ", split " + std::to_string(split));
        EXPECT_EQ(hash_resumed_at(text, split), to_hex(md5(text)));
    }
}

TEST(Md5Checkpoint, AChainOfCheckpointsEndsAtTheUninterruptedDigest) {
    // As an upload resumed after several restarts: every piece starts from the last save.
    std::mt19937 rng(11);
    const std::string& text = corpus();
    std::string saved = Md5().checkpoint();
    for (std::size_t at = 0; at < text.size();) {
        const std::size_t piece = std::min<std::size_t>(1 + rng() % 300'000, text.size() - at);
        auto h = Md5::restore(saved);
        ASSERT_TRUE(h.has_value()) << "at " << at;
        h->update(text.substr(at, piece));
        saved = h->checkpoint();
        at += piece;
    }
    auto last = Md5::restore(saved);
    ASSERT_TRUE(last.has_value());
    EXPECT_EQ(to_hex(last->digest()), to_hex(md5(text)));
}

TEST(Md5Checkpoint, CheckpointsHaveOneFixedSize) {
    const auto size = Md5().checkpoint().size();
    for (std::size_t n : {1u, 63u, 64u, 65u, 1000u}) {
        EXPECT_EQ(hashed(corpus().substr(0, n)).checkpoint().size(), size) << n;
    }
}

TEST(Md5Checkpoint, SizeCountsBytesHashed) {
    Md5 h;
    EXPECT_EQ(h.size(), 0u);
    h.update("abc");
    EXPECT_EQ(h.size(), 3u);
    h.update(std::string_view(corpus()).substr(0, 70));
    EXPECT_EQ(h.size(), 73u);
    (void)h.digest();  // looking does not count
    EXPECT_EQ(h.size(), 73u);
}

TEST(Md5Checkpoint, CopiesHashOnIndependently) {
    const Md5 base = hashed("a");
    Md5 copy = base;
    copy.update("bc");
    EXPECT_EQ(to_hex(copy.digest()), "900150983cd24fb0d6963f7d28e17f72");
    EXPECT_EQ(to_hex(base.digest()), to_hex(md5("a")));
}

TEST(Md5Checkpoint, RestoreRefusesWrongSizes) {
    const std::string good = hashed("abc").checkpoint();
    EXPECT_FALSE(Md5::restore("").has_value());
    EXPECT_FALSE(Md5::restore(good.substr(0, good.size() - 1)).has_value());
    EXPECT_FALSE(Md5::restore(good + '\0').has_value());
    EXPECT_FALSE(Md5::restore(good + good).has_value());
}

TEST(Md5Checkpoint, RestoreRefusesAnotherTag) {
    std::string tagged = hashed("abc").checkpoint();
    tagged[0] = static_cast<char>(tagged[0] ^ 0x20);
    EXPECT_FALSE(Md5::restore(tagged).has_value());
    EXPECT_FALSE(Md5::restore(std::string(tagged.size(), '\0')).has_value());
}

TEST(Md5Checkpoint, RestoreRefusesAPendingCountTheByteCountDoesNotAllow) {
    const std::string three = hashed("abc").checkpoint();
    ASSERT_TRUE(Md5::restore(with_pending_count(three, 3)).has_value());  // the layout holds
    EXPECT_FALSE(Md5::restore(with_pending_count(three, 4)).has_value());
    EXPECT_FALSE(Md5::restore(with_pending_count(three, 0)).has_value());
    EXPECT_FALSE(Md5::restore(with_pending_count(three, 64)).has_value());
    EXPECT_FALSE(Md5::restore(with_pending_count(three, 0xffffffff)).has_value());
}

TEST(Md5Checkpoint, RestoreRefusesABitCountOfPartBytes) {
    // Bytes are hashed whole: 3 bytes are 24 bits, and 25 bits are no state Md5 has.
    const std::string three = hashed("abc").checkpoint();
    ASSERT_TRUE(Md5::restore(with_u32_at(three, kBitCountAt, 24)).has_value());
    EXPECT_FALSE(Md5::restore(with_u32_at(three, kBitCountAt, 25)).has_value());
}

}  // namespace
}  // namespace audiodrop::core
