#include "upload/completion_check.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace audiodrop::upload {
namespace {

using core::ErrorKind;

constexpr const char* kHex = "9e107d9d372bb6826bd81d3542a419d6";
constexpr const char* kHexUpper = "9E107D9D372BB6826BD81D3542A419D6";

// A distinct, valid lowercase ETag for part `n`.
std::string etag_of(std::uint32_t n) {
    std::string e = "00000000000000000000000000000000";
    const std::string digits = std::to_string(n);
    e.replace(e.size() - digits.size(), digits.size(), digits);
    return e;
}

std::string in_quotes(const std::string& s) { return "\"" + s + "\""; }

// part_list 1..n as a client sends it: quoted ETags.
std::vector<RequestedPart> request_of(std::uint32_t n) {
    std::vector<RequestedPart> out;
    for (std::uint32_t i = 1; i <= n; ++i) out.push_back({i, in_quotes(etag_of(i))});
    return out;
}

std::vector<storage::PartRef> refs_of(std::uint32_t n) {
    std::vector<storage::PartRef> out;
    for (std::uint32_t i = 1; i <= n; ++i) out.push_back({i, etag_of(i)});
    return out;
}

void expect_error(const core::Error& e, ErrorKind kind, const std::string& code) {
    EXPECT_EQ(e.kind, kind) << e.code << ": " << e.message;
    EXPECT_EQ(e.code, code) << e.message;
    EXPECT_FALSE(e.message.empty());
}

template <class T>
void expect_error(const core::Result<T>& r, ErrorKind kind, const std::string& code) {
    ASSERT_FALSE(r.has_value());
    expect_error(r.error(), kind, code);
}

// --- normalize_etag / normalize_md5 -------------------------------------------------

TEST(NormalizeEtag, AcceptsQuotedAndUnquotedHexInAnyCase) {
    EXPECT_EQ(normalize_etag(kHex), kHex);
    EXPECT_EQ(normalize_etag(in_quotes(kHex)), kHex);
    EXPECT_EQ(normalize_etag(kHexUpper), kHex);
    EXPECT_EQ(normalize_etag(in_quotes(kHexUpper)), kHex);
    EXPECT_EQ(normalize_etag("9e107D9D372bb6826BD81d3542a419d6"), kHex);
}

TEST(NormalizeEtag, RefusesWrongLength) {
    const std::string hex = kHex;
    EXPECT_FALSE(normalize_etag(hex.substr(0, 31)));
    EXPECT_FALSE(normalize_etag(hex + "0"));
    EXPECT_FALSE(normalize_etag(in_quotes(hex.substr(0, 31))));
    EXPECT_FALSE(normalize_etag(in_quotes(hex + "0")));
    EXPECT_FALSE(normalize_etag(""));
    EXPECT_FALSE(normalize_etag("\"\""));
}

TEST(NormalizeEtag, RefusesNonHex) {
    std::string bad = kHex;
    bad[5] = 'g';
    EXPECT_FALSE(normalize_etag(bad));
    EXPECT_FALSE(normalize_etag(in_quotes(bad)));
    bad[5] = ' ';
    EXPECT_FALSE(normalize_etag(bad));
    // A multipart-style ETag ("<md5>-<parts>") is not a part's ETag.
    EXPECT_FALSE(normalize_etag(in_quotes(std::string(kHex) + "-2")));
}

TEST(NormalizeEtag, RefusesUnbalancedOrMisplacedQuotes) {
    const std::string hex = kHex;
    EXPECT_FALSE(normalize_etag("\"" + hex));
    EXPECT_FALSE(normalize_etag(hex + "\""));
    EXPECT_FALSE(normalize_etag("'" + hex + "'"));
    // 32 characters with quotes in place of two digits.
    EXPECT_FALSE(normalize_etag(in_quotes(hex.substr(0, 30))));
    EXPECT_FALSE(normalize_etag("\"\"" + hex + "\"\""));
}

TEST(NormalizeMd5, AcceptsHexInAnyCaseAndLowercasesIt) {
    EXPECT_EQ(normalize_md5(kHex), kHex);
    EXPECT_EQ(normalize_md5(kHexUpper), kHex);
}

TEST(NormalizeMd5, RefusesQuotesWrongLengthAndNonHex) {
    const std::string hex = kHex;
    EXPECT_FALSE(normalize_md5(in_quotes(hex)));
    EXPECT_FALSE(normalize_md5(hex.substr(0, 31)));
    EXPECT_FALSE(normalize_md5(hex + "a"));
    EXPECT_FALSE(normalize_md5(""));
    std::string bad = hex;
    bad[0] = 'z';
    EXPECT_FALSE(normalize_md5(bad));
    // base64 of an MD5 (Content-MD5 style) is not accepted as file_md5.
    EXPECT_FALSE(normalize_md5("nhB9nTcrtoJr2B01QqQZ1g=="));
}

// --- check_part_list ----------------------------------------------------------------

TEST(CheckPartList, AcceptsEveryPartOnceAscendingAndNormalizesEtags) {
    auto list = request_of(3);
    list[1].etag = "ABCDEF0123456789ABCDEF0123456789";  // unquoted, uppercase
    auto refs = check_part_list(list, 3);
    ASSERT_TRUE(refs.has_value()) << refs.error().message;
    ASSERT_EQ(refs->size(), 3u);
    EXPECT_EQ((*refs)[0].part_number, 1u);
    EXPECT_EQ((*refs)[0].etag, etag_of(1));
    EXPECT_EQ((*refs)[1].part_number, 2u);
    EXPECT_EQ((*refs)[1].etag, "abcdef0123456789abcdef0123456789");
    EXPECT_EQ((*refs)[2].part_number, 3u);
    EXPECT_EQ((*refs)[2].etag, etag_of(3));
}

TEST(CheckPartList, RefusesTooFewOrTooManyParts) {
    expect_error(check_part_list(request_of(2), 3), ErrorKind::invalid_input, "invalid_part_list");
    expect_error(check_part_list(request_of(4), 3), ErrorKind::invalid_input, "invalid_part_list");
    expect_error(check_part_list({}, 1), ErrorKind::invalid_input, "invalid_part_list");
}

TEST(CheckPartList, RefusesDuplicatePartNumbers) {
    auto list = request_of(3);
    list[2].part_number = 2;
    expect_error(check_part_list(list, 3), ErrorKind::invalid_input, "invalid_part_list");
}

TEST(CheckPartList, RefusesDescendingOrder) {
    auto list = request_of(3);
    std::swap(list[0], list[2]);
    expect_error(check_part_list(list, 3), ErrorKind::invalid_input, "invalid_part_list");
}

TEST(CheckPartList, RefusesAGapInPartNumbers) {
    auto list = request_of(3);
    list[1].part_number = 3;
    list[2].part_number = 4;
    expect_error(check_part_list(list, 3), ErrorKind::invalid_input, "invalid_part_list");
}

TEST(CheckPartList, RefusesPartNumberZeroNegativeOrPastTheLast) {
    for (std::int64_t bad : {std::int64_t{0}, std::int64_t{-1}, std::int64_t{4},
                             std::int64_t{1} << 32, std::int64_t{(1LL << 32) + 1}}) {
        SCOPED_TRACE(bad);
        auto list = request_of(1);
        list[0].part_number = bad;
        expect_error(check_part_list(list, 1), ErrorKind::invalid_input, "invalid_part_list");
    }
    auto list = request_of(3);
    list[2].part_number = 4;
    expect_error(check_part_list(list, 3), ErrorKind::invalid_input, "invalid_part_list");
}

TEST(CheckPartList, RefusesAMalformedEtagAsInvalidPart) {
    for (const std::string bad : {"", "\"\"", "not-an-etag", "\"9e107d9d372bb6826bd81d3542a419d\"",
                                  "\"9e107d9d372bb6826bd81d3542a419d6"}) {
        SCOPED_TRACE(bad);
        auto list = request_of(3);
        list[1].etag = bad;
        expect_error(check_part_list(list, 3), ErrorKind::invalid_input, "invalid_part");
    }
}

// --- check_against_stored -----------------------------------------------------------

// Three parts of a 2,500-byte file cut into 1,000-byte chunks.
constexpr std::uint64_t kFilesize = 2500;
constexpr PartPlan kPlan{1000, 3};

std::vector<storage::PartInfo> stored_ok() {
    return {{1, etag_of(1), 1000}, {2, etag_of(2), 1000}, {3, etag_of(3), 500}};
}

TEST(CheckAgainstStored, AcceptsPartsThatMatchWhatWasReceived) {
    auto r = check_against_stored(refs_of(3), stored_ok(), kPlan, kFilesize);
    EXPECT_TRUE(r.has_value()) << r.error().message;
}

TEST(CheckAgainstStored, AcceptsWhenExtraPartsWereReceived) {
    // A part PUT past the plan is simply not named and not assembled.
    auto stored = stored_ok();
    stored.push_back({4, etag_of(4), 1000});
    EXPECT_TRUE(check_against_stored(refs_of(3), stored, kPlan, kFilesize).has_value());
}

TEST(CheckAgainstStored, RefusesAPartThatWasNeverUploaded) {
    for (std::size_t missing = 0; missing < 3; ++missing) {
        SCOPED_TRACE(missing);
        auto stored = stored_ok();
        stored.erase(stored.begin() + static_cast<std::ptrdiff_t>(missing));
        expect_error(check_against_stored(refs_of(3), stored, kPlan, kFilesize),
                     ErrorKind::invalid_input, "invalid_part");
    }
    expect_error(check_against_stored(refs_of(3), {}, kPlan, kFilesize), ErrorKind::invalid_input,
                 "invalid_part");
}

TEST(CheckAgainstStored, RefusesAnEtagThatDiffersFromTheStoredPart) {
    auto refs = refs_of(3);
    refs[1].etag = etag_of(9);
    expect_error(check_against_stored(refs, stored_ok(), kPlan, kFilesize),
                 ErrorKind::invalid_input, "invalid_part");
}

TEST(CheckAgainstStored, RefusesAMiddlePartOfTheWrongSize) {
    for (std::uint64_t size : {999u, 1001u, 500u}) {
        SCOPED_TRACE(size);
        auto stored = stored_ok();
        stored[1].size = size;
        expect_error(check_against_stored(refs_of(3), stored, kPlan, kFilesize),
                     ErrorKind::invalid_input, "invalid_part_size");
    }
}

TEST(CheckAgainstStored, RefusesALastPartThatIsNotTheRemainder) {
    for (std::uint64_t size : {499u, 501u, 1000u}) {
        SCOPED_TRACE(size);
        auto stored = stored_ok();
        stored[2].size = size;
        expect_error(check_against_stored(refs_of(3), stored, kPlan, kFilesize),
                     ErrorKind::invalid_input, "invalid_part_size");
    }
}

TEST(CheckAgainstStored, RefusesPartsThatDoNotAddUpToFilesize) {
    // Only parts 1 and 2 named: each is the right size but the total is short.
    expect_error(check_against_stored(refs_of(2), stored_ok(), kPlan, kFilesize),
                 ErrorKind::invalid_input, "invalid_part_size");
}

TEST(CheckAgainstStored, SinglePartFileMustBeExactlyFilesize) {
    const PartPlan plan{1000, 1};
    std::vector<storage::PartInfo> stored{{1, etag_of(1), 700}};
    EXPECT_TRUE(check_against_stored(refs_of(1), stored, plan, 700).has_value());
    expect_error(check_against_stored(refs_of(1), stored, plan, 701), ErrorKind::invalid_input,
                 "invalid_part_size");
}

// --- part_list_digest ---------------------------------------------------------------

TEST(PartListDigest, IsStableForTheSameList) {
    EXPECT_EQ(part_list_digest(refs_of(3)), part_list_digest(refs_of(3)));
    EXPECT_EQ(part_list_digest(refs_of(3)).size(), 64u);
}

TEST(PartListDigest, ChangesWithOrderEtagOrLength) {
    const std::string base = part_list_digest(refs_of(3));
    auto reordered = refs_of(3);
    std::swap(reordered[0], reordered[1]);
    EXPECT_NE(part_list_digest(reordered), base);

    auto other_etag = refs_of(3);
    other_etag[2].etag = etag_of(7);
    EXPECT_NE(part_list_digest(other_etag), base);

    EXPECT_NE(part_list_digest(refs_of(2)), base);
    EXPECT_NE(part_list_digest(refs_of(4)), base);
}

TEST(PartListDigest, SpellingsOfOneEtagGiveTheSameDigest) {
    // Quoted/uppercase and bare/lowercase spellings normalize to one accepted list, so a
    // retry that spells ETags differently is still the same completion.
    auto upper = request_of(2);
    upper[1].etag = in_quotes(kHexUpper);
    auto lower = request_of(2);
    lower[0].etag = etag_of(1);
    lower[1].etag = kHex;
    auto a = check_part_list(upper, 2);
    auto b = check_part_list(lower, 2);
    ASSERT_TRUE(a.has_value() && b.has_value());
    EXPECT_EQ(part_list_digest(*a), part_list_digest(*b));
}

}  // namespace
}  // namespace audiodrop::upload
