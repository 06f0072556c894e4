// Crash states are built by hand (what kill -9 can leave on disk at each step), then
// the store is reopened and must settle into a consistent state.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "local_store_fixture.hpp"
#include "storage/local_layout.hpp"

namespace audiodrop::storage {
namespace {

using test_support::LocalStoreTest;
using test_support::md5_hex;

const std::string kKey = "file_crash.m4a";

void write_file(const std::filesystem::path& path, std::string_view data) {
    std::ofstream(path, std::ios::binary) << data;
}

void set_mtime(const std::filesystem::path& path, std::int64_t unix_seconds) {
    timespec times[2] = {{0, UTIME_OMIT}, {static_cast<time_t>(unix_seconds), 0}};
    ASSERT_EQ(::utimensat(AT_FDCWD, path.c_str(), times, 0), 0);
}

TEST_F(LocalStoreTest, StartSweepsTempFiles) {
    write_file(root_ / "tmp" / "tmp_half_written_part", "partial bytes");
    std::filesystem::create_directories(root_ / "tmp" / "tmp_staging" / "nested");
    write_file(root_ / "tmp" / "tmp_staging" / "nested" / "x", "x");
    reopen();
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, AcknowledgedPartsAndObjectsSurviveARestart) {
    const auto open_id = create(kKey);
    ASSERT_TRUE(put_part(kKey, open_id, 1, "acked part"));
    const auto done_id = create("file_done.mp3");
    auto e = put_part("file_done.mp3", done_id, 1, "completed file");
    ASSERT_TRUE(e && store_->complete("file_done.mp3", done_id, {{1, e->etag}}, std::nullopt));

    reopen();
    auto parts = store_->list_parts(kKey, open_id);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].etag, md5_hex("acked part"));
    EXPECT_EQ(read_all("file_done.mp3"), "completed file");
    EXPECT_TRUE(store_->complete(kKey, open_id, {{1, md5_hex("acked part")}}, std::nullopt));
    EXPECT_EQ(read_all(kKey), "acked part");
}

TEST_F(LocalStoreTest, CompleteCutOffAfterItsManifestIsFinishedAtStart) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "first ");
    auto e2 = put_part(kKey, id, 2, "second");
    auto extra = put_part(kKey, id, 3, "never named");
    ASSERT_TRUE(e1 && e2 && extra);

    // The state right after the manifest was renamed into the upload directory.
    Manifest m;
    m.key = kKey;
    m.upload_id = id;
    m.size = 12;
    m.md5 = md5_hex("first second");
    m.completed_at = 1'750'000'123;
    m.parts = {{1, part_file_name(1, e1->etag), 6, e1->etag},
               {2, part_file_name(2, e2->etag), 6, e2->etag}};
    write_file(upload_dir(id) / "manifest.json", encode(m));

    reopen();
    EXPECT_FALSE(std::filesystem::exists(upload_dir(id)));
    EXPECT_EQ(read_all(kKey), "first second");
    auto stat = store_->stat(kKey);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->md5, md5_hex("first second"));
    EXPECT_FALSE(std::filesystem::exists(object_dir(kKey) / part_file_name(3, extra->etag)));
    // The client's retry of that complete gets the finished object.
    auto retry = store_->complete(kKey, id, {{1, e1->etag}, {2, e2->etag}}, std::nullopt);
    ASSERT_TRUE(retry.has_value());
    EXPECT_EQ(retry->md5, md5_hex("first second"));
}

Manifest manifest_for(const std::string& upload_id, const std::vector<std::string>& bodies,
                      const std::vector<PartInfo>& parts) {
    Manifest m;
    m.key = kKey;
    m.upload_id = upload_id;
    std::string all;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        m.parts.push_back({parts[i].part_number,
                           part_file_name(parts[i].part_number, parts[i].etag), parts[i].size,
                           parts[i].etag});
        all += bodies[i];
    }
    m.size = all.size();
    m.md5 = md5_hex(all);
    return m;
}

TEST_F(LocalStoreTest, CompleteRetryFinishesAManifestLeftByAFailedRename) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "decided");
    ASSERT_TRUE(e1.has_value());
    write_file(upload_dir(id) / "manifest.json", encode(manifest_for(id, {"decided"}, {*e1})));
    auto info = store_->complete(kKey, id, {{1, e1->etag}}, std::nullopt);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->md5, md5_hex("decided"));
    EXPECT_EQ(read_all(kKey), "decided");
}

TEST_F(LocalStoreTest, CompleteWithOtherPartsReplacesAStaleManifest) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "one");
    auto e2 = put_part(kKey, id, 2, "two");
    ASSERT_TRUE(e1 && e2);
    write_file(upload_dir(id) / "manifest.json", encode(manifest_for(id, {"one"}, {*e1})));
    auto info = store_->complete(kKey, id, {{1, e1->etag}, {2, e2->etag}}, std::nullopt);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(read_all(kKey), "onetwo");
}

TEST_F(LocalStoreTest, CompleteCutOffWhileReplacingAnObjectIsFinishedAtStart) {
    const auto old_id = create(kKey);
    auto old_part = put_part(kKey, old_id, 1, "old");
    ASSERT_TRUE(old_part && store_->complete(kKey, old_id, {{1, old_part->etag}}, std::nullopt));
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "new");
    ASSERT_TRUE(e1.has_value());
    Manifest m;
    m.key = kKey;
    m.upload_id = id;
    m.size = 3;
    m.md5 = md5_hex("new");
    m.parts = {{1, part_file_name(1, e1->etag), 3, e1->etag}};
    write_file(upload_dir(id) / "manifest.json", encode(m));
    // Cut off after the old object was moved aside.
    std::filesystem::rename(object_dir(kKey), root_ / "tmp" / "tmp_displaced");

    reopen();
    EXPECT_EQ(read_all(kKey), "new");
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, DuplicatePartFilesKeepTheNewestAtStart) {
    const auto id = create(kKey);
    auto old_part = put_part(kKey, id, 1, "older bytes");
    ASSERT_TRUE(old_part.has_value());
    const auto old_file = upload_dir(id) / part_file_name(1, old_part->etag);
    const auto new_file = upload_dir(id) / part_file_name(1, md5_hex("newer bytes"));
    // A re-upload renamed in, cut off before it removed the file it replaced.
    write_file(new_file, "newer bytes");
    set_mtime(old_file, 1'700'000'000);
    set_mtime(new_file, 1'700'000'100);

    // Until recovery runs, readers already see only the newest.
    auto before = store_->list_parts(kKey, id);
    ASSERT_TRUE(before.has_value());
    ASSERT_EQ(before->size(), 1u);
    EXPECT_EQ((*before)[0].etag, md5_hex("newer bytes"));

    reopen();
    EXPECT_FALSE(std::filesystem::exists(old_file));
    EXPECT_TRUE(std::filesystem::exists(new_file));
    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].etag, md5_hex("newer bytes"));
    EXPECT_EQ((*parts)[0].size, 11u);
}

TEST_F(LocalStoreTest, UploadDirectoriesThatAreNotOursAreLeftAlone) {
    std::filesystem::create_directories(root_ / "uploads" / "lost+found");
    write_file(root_ / "uploads" / "lost+found" / "x", "x");
    reopen();
    EXPECT_TRUE(std::filesystem::exists(root_ / "uploads" / "lost+found" / "x"));
}

TEST_F(LocalStoreTest, SecondStoreOnTheSameRootIsRefused) {
    auto second = LocalObjectStore::open(options(), clock_);
    ASSERT_FALSE(second.has_value());
    EXPECT_EQ(second.error().kind, core::ErrorKind::unavailable);
    EXPECT_EQ(second.error().code, "StoreLocked");
}

}  // namespace
}  // namespace audiodrop::storage
