#include "storage/sealed_upload_id.hpp"

#include <gtest/gtest.h>

#include <limits>
#include <string>

#include "core/ids.hpp"
#include "storage/local_layout.hpp"

namespace audiodrop::storage {
namespace {

constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
const std::string kKey = "file_abc.mp3";
const std::string kSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";

UploadRecord record_of(std::string key, std::uint64_t max_part_size = 5 * 1024 * 1024,
                       std::int64_t created = 1'750'000'000) {
    return UploadRecord{std::move(key), max_part_size, created};
}

class SealedUploadIdTest : public ::testing::Test {
  protected:
    void expect_opens_to(const std::string& id, const UploadRecord& want) const {
        auto got = sealer_.open(id, want.key);
        ASSERT_TRUE(got.has_value()) << id;
        EXPECT_EQ(got->key, want.key);
        EXPECT_EQ(got->max_part_size, want.max_part_size);
        EXPECT_EQ(got->created, want.created);
    }

    UploadIdSealer sealer_{kSecret};
    const std::string id_ = sealer_.mint(record_of(kKey));
};

TEST_F(SealedUploadIdTest, OpenGivesBackTheMintedRecord) { expect_opens_to(id_, record_of(kKey)); }

TEST_F(SealedUploadIdTest, ExtremeRecordValuesRoundTrip) {
    for (const auto& record :
         {record_of(kKey, 1, 0), record_of(kKey, std::numeric_limits<std::uint64_t>::max(), -1),
          record_of("a", 42, std::numeric_limits<std::int64_t>::max()),
          record_of(std::string(kMaxKeyLength, 'k'), 7,
                    std::numeric_limits<std::int64_t>::min())}) {
        SCOPED_TRACE(record.key + " " + std::to_string(record.created));
        expect_opens_to(sealer_.mint(record), record);
    }
}

TEST_F(SealedUploadIdTest, MintedIdsHaveTheDocumentedForm) {
    EXPECT_TRUE(id_.starts_with("mpu_"));
    EXPECT_EQ(id_.size(), 72u);
    EXPECT_EQ(id_.find_first_not_of(kAlphabet, 4), std::string::npos);
    EXPECT_TRUE(UploadIdSealer::looks_sealed(id_));
    EXPECT_TRUE(is_valid_upload_id(id_));
}

TEST_F(SealedUploadIdTest, EveryMintIsADifferentId) {
    const auto again = sealer_.mint(record_of(kKey));
    EXPECT_NE(again, id_);
    expect_opens_to(again, record_of(kKey));
}

TEST_F(SealedUploadIdTest, AnotherKeyOpensNothing) {
    EXPECT_FALSE(sealer_.open(id_, "file_abd.mp3").has_value());
    EXPECT_FALSE(sealer_.open(id_, kKey + "x").has_value());
    EXPECT_FALSE(sealer_.open(id_, "").has_value());
}

TEST_F(SealedUploadIdTest, AnotherSecretOpensNothing) {
    const UploadIdSealer other("another secret key");
    EXPECT_FALSE(other.open(id_, kKey).has_value());
    EXPECT_TRUE(other.open(other.mint(record_of(kKey)), kKey).has_value());
}

TEST_F(SealedUploadIdTest, AnyChangedCharacterOpensNothing) {
    for (std::size_t at = 0; at < id_.size(); ++at) {
        for (char c : kAlphabet) {
            if (c == id_[at]) continue;
            std::string changed = id_;
            changed[at] = c;
            EXPECT_FALSE(sealer_.open(changed, kKey).has_value()) << changed;
        }
    }
}

TEST_F(SealedUploadIdTest, TruncatedOrExtendedIdsOpenNothing) {
    for (std::size_t length = 0; length < id_.size(); ++length) {
        const auto cut = id_.substr(0, length);
        EXPECT_FALSE(sealer_.open(cut, kKey).has_value()) << cut;
        EXPECT_FALSE(UploadIdSealer::looks_sealed(cut)) << cut;
    }
    EXPECT_FALSE(sealer_.open(id_ + "a", kKey).has_value());
    EXPECT_FALSE(UploadIdSealer::looks_sealed(id_ + "a"));
}

TEST_F(SealedUploadIdTest, PlainIdsFromBeforeSealingAreValidButOpenNothing) {
    const auto plain = core::new_id("mpu_");
    ASSERT_EQ(plain.size(), 4u + 26u);
    EXPECT_FALSE(sealer_.open(plain, kKey).has_value());
    EXPECT_FALSE(UploadIdSealer::looks_sealed(plain));
    EXPECT_TRUE(is_valid_upload_id(plain));
}

TEST_F(SealedUploadIdTest, IdsWithPathCharactersAreRefused) {
    std::vector<std::string> ids = {
        ".", "..", "/", "mpu_..", "mpu_../../etc/passwd", "mpu_" + std::string(68, '.')};
    for (const std::string_view piece : {"/", ".", ".."}) {
        std::string with_piece = id_;
        with_piece.replace(30, piece.size(), piece);  // same length, a path piece inside
        ids.push_back(with_piece);
        ids.push_back(id_.substr(0, id_.size() - piece.size()) + std::string(piece));
    }
    for (const auto& id : ids) {
        EXPECT_FALSE(UploadIdSealer::looks_sealed(id)) << id;
        EXPECT_FALSE(is_valid_upload_id(id)) << id;
        EXPECT_FALSE(sealer_.open(id, kKey).has_value()) << id;
    }
}

TEST_F(SealedUploadIdTest, UppercaseIdsAreRefused) {
    std::string upper = id_;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_FALSE(UploadIdSealer::looks_sealed(upper));
    EXPECT_FALSE(sealer_.open(upper, kKey).has_value());
}

}  // namespace
}  // namespace audiodrop::storage
