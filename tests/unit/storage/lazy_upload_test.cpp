// "Starting an upload writes nothing" (local_object_store.hpp): the upload id carries
// the upload's record until the first part writes its directory, and an upload that
// ended (aborted, completed, its object removed) refuses parts whether or not it ever
// had a directory.

#include <gtest/gtest.h>

#include "core/ids.hpp"
#include "local_store_fixture.hpp"
#include "storage/local_layout.hpp"
#include "storage/posix_file.hpp"

namespace audiodrop::storage {
namespace {

using test_support::LocalStoreTest;
using test_support::md5_hex;

const std::string kKey = "file_lazy.mp3";
const std::string kOtherKey = "file_other.mp3";

template <class T>
void expect_no_such_upload(const core::Result<T>& r) {
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, core::ErrorKind::not_found);
    EXPECT_EQ(r.error().code, "NoSuchUpload");
}

class LazyUploadTest : public LocalStoreTest {
  protected:
    // The upload `id` of `key` takes no part (begin_part, where a body would start).
    void expect_refuses_parts(const std::string& id, const std::string& key = kKey) {
        expect_no_such_upload(store_->begin_part(key, id, 1, 1));
    }

    // Stores one part in a new upload of kKey and completes it.
    std::string completed_upload(std::string_view bytes) {
        const auto id = create(kKey);
        auto part = put_part(kKey, id, 1, bytes);
        EXPECT_TRUE(part.has_value());
        if (part) {
            EXPECT_TRUE(store_->complete(kKey, id, {{1, part->etag}}, std::nullopt).has_value());
        }
        return id;
    }

    std::filesystem::path ended_mark(const std::string& id) const { return root_ / "ended" / id; }
};

TEST_F(LazyUploadTest, CreatingAnUploadWritesNothing) {
    create(kKey);
    create(kOtherKey);
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
    EXPECT_EQ(count_entries(root_ / "ended"), 0u);
}

TEST_F(LazyUploadTest, AFreshUploadHasNoParts) {
    const auto id = create(kKey);
    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value()) << parts.error().message;
    EXPECT_TRUE(parts->empty());
}

TEST_F(LazyUploadTest, AFreshUploadSurvivesARestart) {
    const auto id = create(kKey);
    reopen();
    EXPECT_TRUE(put_part(kKey, id, 1, "after the restart").has_value());
}

TEST_F(LazyUploadTest, TheFirstPartWritesTheRecordTheIdCarried) {
    const auto created_at = core::to_unix(clock_.now());
    const auto id = create(kKey, 4096);
    clock_.advance(core::Seconds{90});
    ASSERT_TRUE(put_part(kKey, id, 2, "first to arrive").has_value());

    auto text = read_small_file(upload_dir(id) / "upload.json");
    ASSERT_TRUE(text.has_value());
    auto record = decode_upload_record(*text);
    ASSERT_TRUE(record.has_value());
    EXPECT_EQ(record->key, kKey);
    EXPECT_EQ(record->max_part_size, 4096u);
    EXPECT_EQ(record->created, created_at);
}

TEST_F(LazyUploadTest, TheCarriedPartSizeLimitHolds) {
    const auto id = create(kKey, 10);
    auto r = store_->begin_part(kKey, id, 1, 11);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "EntityTooLarge");
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
}

TEST_F(LazyUploadTest, AbortBeforeAnyPartEndsTheUpload) {
    const auto id = create(kKey);
    ASSERT_TRUE(store_->abort(kKey, id).has_value());
    EXPECT_TRUE(std::filesystem::exists(ended_mark(id)));
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
    expect_refuses_parts(id);
    expect_no_such_upload(store_->list_parts(kKey, id));
    expect_no_such_upload(store_->abort(kKey, id));
}

TEST_F(LazyUploadTest, AbortAfterPartsEndsTheUpload) {
    const auto id = create(kKey);
    ASSERT_TRUE(put_part(kKey, id, 1, "some bytes").has_value());
    ASSERT_TRUE(store_->abort(kKey, id).has_value());
    EXPECT_TRUE(std::filesystem::exists(ended_mark(id)));
    EXPECT_FALSE(std::filesystem::exists(upload_dir(id)));
    expect_refuses_parts(id);
}

TEST_F(LazyUploadTest, AnAbortedUploadStaysEndedAfterARestart) {
    const auto id = create(kKey);
    ASSERT_TRUE(store_->abort(kKey, id).has_value());
    reopen();
    EXPECT_TRUE(std::filesystem::exists(ended_mark(id)));
    expect_refuses_parts(id);
}

TEST_F(LazyUploadTest, ACompletedUploadRefusesParts) {
    const auto id = completed_upload("the object");
    expect_refuses_parts(id);
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
}

TEST_F(LazyUploadTest, TheUploadOfARemovedObjectRefusesParts) {
    const auto id = completed_upload("the object");
    ASSERT_TRUE(store_->remove(kKey).has_value());
    EXPECT_TRUE(std::filesystem::exists(ended_mark(id)));
    expect_refuses_parts(id);
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
}

TEST_F(LazyUploadTest, TheUploadOfAReplacedObjectRefusesParts) {
    // "An upload is gone once ... completed": also once a later upload of the same key
    // has replaced the object it became.
    const auto first = completed_upload("the first object");
    completed_upload("the second object");
    expect_refuses_parts(first);
    expect_no_such_upload(store_->list_parts(kKey, first));
    expect_no_such_upload(store_->complete(kKey, first, {{1, md5_hex("x")}}, std::nullopt));
    expect_no_such_upload(store_->abort(kKey, first));
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
}

TEST_F(LazyUploadTest, AnIdMintedForAnotherKeyIsNoSuchUpload) {
    const auto id = create(kKey);
    expect_refuses_parts(id, kOtherKey);
    expect_no_such_upload(store_->list_parts(kOtherKey, id));
    expect_no_such_upload(store_->abort(kOtherKey, id));
    EXPECT_EQ(count_entries(root_ / "ended"), 0u);

    ASSERT_TRUE(put_part(kKey, id, 1, "bytes").has_value());  // now it has a directory
    expect_refuses_parts(id, kOtherKey);
}

TEST_F(LazyUploadTest, AMadeUpSealedLookingIdIsNoSuchUpload) {
    // The right length and alphabet, but not sealed by this store.
    const auto id = std::string(kUploadIdPrefix) + core::base32_encode(std::string(42, '\x5a'));
    ASSERT_TRUE(is_valid_upload_id(id));
    expect_refuses_parts(id);
    expect_no_such_upload(store_->list_parts(kKey, id));
    expect_no_such_upload(store_->abort(kKey, id));
    expect_no_such_upload(store_->complete(kKey, id, {{1, std::string(32, '0')}}, std::nullopt));
    EXPECT_EQ(count_entries(root_ / "uploads"), 0u);
    EXPECT_EQ(count_entries(root_ / "ended"), 0u);
}

TEST_F(LazyUploadTest, AnIdFromAStoreWithAnotherSecretIsNoSuchUpload) {
    const UploadIdSealer foreign("another store's secret");
    const auto id = foreign.mint(UploadRecord{kKey, kPartSize, core::to_unix(clock_.now())});
    expect_refuses_parts(id);
}

}  // namespace
}  // namespace audiodrop::storage
