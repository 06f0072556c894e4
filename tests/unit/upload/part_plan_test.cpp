#include "upload/part_plan.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <random>

namespace audiodrop::upload {
namespace {

constexpr std::uint64_t kChunk = 5 * kMiB;
constexpr std::uint64_t kTiB = kMiB * kMiB;

std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); }

// Every rule of DESIGN §2 for one filesize, so the fixed cases and the property test
// check the same things.
void expect_valid_plan(std::uint64_t filesize) {
    SCOPED_TRACE("filesize " + std::to_string(filesize));
    const PartPlan plan = plan_parts(filesize);

    ASSERT_GT(plan.chunk_size, 0u);
    EXPECT_EQ(plan.chunk_size % kMiB, 0u) << "ChunkSize grows in whole MiB only";
    EXPECT_GE(plan.chunk_size, kChunk);
    EXPECT_GE(plan.part_count, 1u);
    EXPECT_LE(plan.part_count, kMaxParts);
    EXPECT_EQ(plan.part_count, ceil_div(filesize, plan.chunk_size));
    if (plan.chunk_size > kChunk) {
        EXPECT_GT(ceil_div(filesize, plan.chunk_size - kMiB), kMaxParts)
            << "a chunk one MiB smaller would have been enough";
    }

    std::uint64_t total = 0;
    for (std::uint32_t n = 1; n <= plan.part_count; ++n) {
        const std::uint64_t size = plan.part_size(n, filesize);
        if (n < plan.part_count) {
            ASSERT_EQ(size, plan.chunk_size) << "part " << n;
        } else {
            ASSERT_GE(size, 1u) << "the last part is never empty";
            ASSERT_LE(size, plan.chunk_size);
        }
        total += size;
    }
    EXPECT_EQ(total, filesize);
}

TEST(PartPlan, OneByteIsOnePartOfDefaultChunk) {
    const PartPlan plan = plan_parts(1);
    EXPECT_EQ(plan.chunk_size, kChunk);
    EXPECT_EQ(plan.part_count, 1u);
    EXPECT_EQ(plan.part_size(1, 1), 1u);
    expect_valid_plan(1);
}

TEST(PartPlan, ExactlyOneChunkIsOneFullPart) {
    const PartPlan plan = plan_parts(kChunk);
    EXPECT_EQ(plan.chunk_size, kChunk);
    EXPECT_EQ(plan.part_count, 1u);
    EXPECT_EQ(plan.part_size(1, kChunk), kChunk);
}

TEST(PartPlan, OneByteOverAChunkAddsAOneBytePart) {
    const PartPlan plan = plan_parts(kChunk + 1);
    EXPECT_EQ(plan.chunk_size, kChunk);
    EXPECT_EQ(plan.part_count, 2u);
    EXPECT_EQ(plan.part_size(1, kChunk + 1), kChunk);
    EXPECT_EQ(plan.part_size(2, kChunk + 1), 1u);
}

TEST(PartPlan, DesignExampleTenMiBIsTwoParts) {
    const PartPlan plan = plan_parts(10485760);
    EXPECT_EQ(plan.chunk_size, 5242880u);
    EXPECT_EQ(plan.part_count, 2u);
}

TEST(PartPlan, TenThousandFullChunksKeepTheDefaultChunk) {
    const std::uint64_t filesize = kMaxParts * kChunk;
    const PartPlan plan = plan_parts(filesize);
    EXPECT_EQ(plan.chunk_size, kChunk);
    EXPECT_EQ(plan.part_count, kMaxParts);
    EXPECT_EQ(plan.part_size(kMaxParts, filesize), kChunk);
    expect_valid_plan(filesize);
}

TEST(PartPlan, OneByteOverTenThousandChunksGrowsChunkToSixMiB) {
    const std::uint64_t filesize = kMaxParts * kChunk + 1;
    const PartPlan plan = plan_parts(filesize);
    EXPECT_EQ(plan.chunk_size, 6 * kMiB);
    EXPECT_EQ(plan.part_count, ceil_div(filesize, 6 * kMiB));
    EXPECT_EQ(plan.part_count, 8334u);
    expect_valid_plan(filesize);
}

TEST(PartPlan, FiveTiBUsesTheSmallestWholeMiBChunkThatFits) {
    const std::uint64_t filesize = 5 * kTiB;
    const PartPlan plan = plan_parts(filesize);
    // 5 TiB / 10,000 parts is 524.288 MiB, so 525 MiB.
    EXPECT_EQ(plan.chunk_size, 525 * kMiB);
    EXPECT_EQ(plan.part_count, 9987u);
    expect_valid_plan(filesize);
}

TEST(PartPlan, ChunkExactlyDividingIntoTenThousandPartsIsNotGrown) {
    const std::uint64_t filesize = kMaxParts * 7 * kMiB;
    const PartPlan plan = plan_parts(filesize);
    EXPECT_EQ(plan.chunk_size, 7 * kMiB);
    EXPECT_EQ(plan.part_count, kMaxParts);
    expect_valid_plan(filesize + 1);
    EXPECT_EQ(plan_parts(filesize + 1).chunk_size, 8 * kMiB);
}

TEST(PartPlan, LargestFilesizeStillFitsInTenThousandParts) {
    expect_valid_plan(std::numeric_limits<std::uint64_t>::max());
    expect_valid_plan(std::numeric_limits<std::uint64_t>::max() - kMiB);
    expect_valid_plan(1ULL << 63);
}

TEST(PartPlan, EveryRuleHoldsForRandomSizes) {
    std::mt19937_64 rng(20240611);
    // Sizes spread over every magnitude, from one byte to far past the 10,000-part
    // threshold, plus each side of chunk boundaries.
    std::uniform_int_distribution<int> bits(0, 63);
    for (int i = 0; i < 400; ++i) {
        const int b = bits(rng);
        std::uint64_t filesize = (rng() >> (63 - b)) | 1;
        expect_valid_plan(filesize);
        if (HasFatalFailure()) return;
    }
    std::uniform_int_distribution<std::uint64_t> parts(1, 3 * kMaxParts);
    for (int i = 0; i < 100; ++i) {
        const std::uint64_t boundary = parts(rng) * kChunk;
        expect_valid_plan(boundary - 1);
        expect_valid_plan(boundary);
        expect_valid_plan(boundary + 1);
        if (HasFatalFailure()) return;
    }
}

}  // namespace
}  // namespace audiodrop::upload
