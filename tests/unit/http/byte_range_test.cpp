#include "http/byte_range.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <ostream>
#include <string>

namespace audiodrop::http {

// So a failed EXPECT_EQ prints the range, not bytes.
void PrintTo(const RangeRequest& r, std::ostream* os) {
    const char* kind = r.kind == RangeRequest::Kind::whole     ? "whole"
                       : r.kind == RangeRequest::Kind::partial ? "partial"
                                                               : "unsatisfiable";
    *os << kind << " " << r.first << "-" << r.last;
}

bool operator==(const RangeRequest& a, const RangeRequest& b) {
    return a.kind == b.kind && a.first == b.first && a.last == b.last;
}

namespace {

using Kind = RangeRequest::Kind;

constexpr std::uint64_t kSize = 1000;

RangeRequest partial(std::uint64_t first, std::uint64_t last) {
    return {Kind::partial, first, last};
}
const RangeRequest kWhole{Kind::whole, 0, 0};
const RangeRequest kUnsatisfiable{Kind::unsatisfiable, 0, 0};

TEST(ParseRange, FirstByteOnly) { EXPECT_EQ(parse_range("bytes=0-0", kSize), partial(0, 0)); }

TEST(ParseRange, ClosedRangeInsideTheObject) {
    EXPECT_EQ(parse_range("bytes=100-199", kSize), partial(100, 199));
    EXPECT_EQ(parse_range("bytes=0-999", kSize), partial(0, 999));
    EXPECT_EQ(parse_range("bytes=999-999", kSize), partial(999, 999));
}

TEST(ParseRange, LastPastTheEndIsClampedToTheLastByte) {
    EXPECT_EQ(parse_range("bytes=500-1000", kSize), partial(500, 999));
    EXPECT_EQ(parse_range("bytes=0-18446744073709551615", kSize), partial(0, 999));
}

TEST(ParseRange, OpenEndedRangeRunsToTheEnd) {
    EXPECT_EQ(parse_range("bytes=0-", kSize), partial(0, 999));
    EXPECT_EQ(parse_range("bytes=250-", kSize), partial(250, 999));
    EXPECT_EQ(parse_range("bytes=999-", kSize), partial(999, 999));
}

TEST(ParseRange, SuffixRangeIsTheLastNBytes) {
    EXPECT_EQ(parse_range("bytes=-1", kSize), partial(999, 999));
    EXPECT_EQ(parse_range("bytes=-100", kSize), partial(900, 999));
    EXPECT_EQ(parse_range("bytes=-999", kSize), partial(1, 999));
}

TEST(ParseRange, SuffixLongerThanTheObjectIsTheWholeObjectAsPartial) {
    EXPECT_EQ(parse_range("bytes=-1000", kSize), partial(0, 999));
    EXPECT_EQ(parse_range("bytes=-5000", kSize), partial(0, 999));
}

TEST(ParseRange, EmptySuffixIsUnsatisfiable) {
    // RFC 9110 §14.1.3: a suffix-length of 0 selects nothing.
    EXPECT_EQ(parse_range("bytes=-0", kSize), kUnsatisfiable);
}

TEST(ParseRange, FirstAtOrPastTheEndIsUnsatisfiable) {
    EXPECT_EQ(parse_range("bytes=1000-", kSize), kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=1000-1000", kSize), kUnsatisfiable);
    EXPECT_EQ(parse_range("bytes=5000-6000", kSize), kUnsatisfiable);
}

TEST(ParseRange, SeveralRangesAreIgnoredAndTheWholeObjectServed) {
    EXPECT_EQ(parse_range("bytes=0-1,5-6", kSize), kWhole);
    EXPECT_EQ(parse_range("bytes=0-1, -5", kSize), kWhole);
    EXPECT_EQ(parse_range("bytes=5000-6000,0-1", kSize), kWhole);
}

TEST(ParseRange, MalformedHeadersAreIgnored) {
    for (const char* header :
         {"", "bytes", "bytes=", "bytes=-", "bytes=abc", "bytes=a-b", "bytes=1-b", "bytes=a-5",
          "bytes=5", "bytes= 0-1", "bytes=0-1 ", "bytes=+1-2", "bytes=1-2-3", "bytes=--5",
          "items=0-1", "bytes:0-1", "bytes=0x10-0x20", "bytes=18446744073709551616-"}) {
        SCOPED_TRACE(header);
        EXPECT_EQ(parse_range(header, kSize), kWhole);
    }
}

TEST(ParseRange, LastBeforeFirstIsIgnored) {
    // RFC 9110 §14.1.1: such a range-spec is invalid, so the header is ignored.
    EXPECT_EQ(parse_range("bytes=500-499", kSize), kWhole);
}

TEST(ParseRange, EveryRangeOfAnEmptyObjectIsUnsatisfiable) {
    for (const char* header : {"bytes=0-0", "bytes=0-", "bytes=-1", "bytes=-0", "bytes=5-9"}) {
        SCOPED_TRACE(header);
        EXPECT_EQ(parse_range(header, 0), kUnsatisfiable);
    }
    EXPECT_EQ(parse_range("", 0), kWhole);
    EXPECT_EQ(parse_range("bytes=0-1,2-3", 0), kWhole);
}

TEST(ParseRange, OneByteObject) {
    EXPECT_EQ(parse_range("bytes=0-0", 1), partial(0, 0));
    EXPECT_EQ(parse_range("bytes=0-", 1), partial(0, 0));
    EXPECT_EQ(parse_range("bytes=-1", 1), partial(0, 0));
    EXPECT_EQ(parse_range("bytes=-2", 1), partial(0, 0));
    EXPECT_EQ(parse_range("bytes=1-", 1), kUnsatisfiable);
}

TEST(ParseRange, ObjectsLargerThanFourGiB) {
    const std::uint64_t size = 5ULL << 32;
    EXPECT_EQ(parse_range("bytes=4294967296-", size), partial(1ULL << 32, size - 1));
    EXPECT_EQ(parse_range("bytes=-4294967296", size), partial(size - (1ULL << 32), size - 1));
}

}  // namespace
}  // namespace audiodrop::http
