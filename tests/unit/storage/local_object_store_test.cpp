#include "storage/local_object_store.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <thread>

#include "local_store_fixture.hpp"

namespace audiodrop::storage {
namespace {

using test_support::as_bytes;
using test_support::LocalStoreTest;
using test_support::md5_hex;
using test_support::pattern_bytes;

const std::string kKey = "file_abc.mp3";

TEST_F(LocalStoreTest, CommittedPartIsListedWithItsMd5AsEtag) {
    const auto id = create(kKey);
    auto part = put_part(kKey, id, 1, "hello world");
    ASSERT_TRUE(part.has_value());
    EXPECT_EQ(part->part_number, 1u);
    EXPECT_EQ(part->etag, md5_hex("hello world"));
    EXPECT_EQ(part->size, 11u);

    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].etag, md5_hex("hello world"));
    EXPECT_EQ((*parts)[0].size, 11u);
    EXPECT_TRUE(std::filesystem::exists(upload_dir(id) / ("00001." + md5_hex("hello world"))));
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, PartsAreListedAscending) {
    const auto id = create(kKey);
    for (std::uint32_t n : {12u, 3u, 7u, 1u}) {
        ASSERT_TRUE(put_part(kKey, id, n, "part " + std::to_string(n)).has_value());
    }
    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value());
    std::vector<std::uint32_t> numbers;
    for (const auto& p : *parts) numbers.push_back(p.part_number);
    EXPECT_EQ(numbers, (std::vector<std::uint32_t>{1, 3, 7, 12}));
}

TEST_F(LocalStoreTest, ReuploadOfAPartReplacesIt) {
    const auto id = create(kKey);
    ASSERT_TRUE(put_part(kKey, id, 2, "first version").has_value());
    ASSERT_TRUE(put_part(kKey, id, 2, "second, longer version").has_value());
    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value());
    ASSERT_EQ(parts->size(), 1u);
    EXPECT_EQ((*parts)[0].etag, md5_hex("second, longer version"));
    // upload.json plus exactly one file for part 2.
    EXPECT_EQ(count_entries(upload_dir(id)), 2u);
}

TEST_F(LocalStoreTest, ReuploadOfIdenticalBytesKeepsOneFile) {
    const auto id = create(kKey);
    ASSERT_TRUE(put_part(kKey, id, 1, "same").has_value());
    ASSERT_TRUE(put_part(kKey, id, 1, "same").has_value());
    EXPECT_EQ(count_entries(upload_dir(id)), 2u);
    EXPECT_EQ(store_->list_parts(kKey, id)->size(), 1u);
}

TEST_F(LocalStoreTest, BeginPartRefusesUnknownUploadsWrongKeysAndBadNumbers) {
    const auto id = create(kKey, 100);
    auto unknown = store_->begin_part(kKey, "mpu_abcdefghijklmnopqrstuvwxyz", 1, 10);
    ASSERT_FALSE(unknown.has_value());
    EXPECT_EQ(unknown.error().kind, core::ErrorKind::not_found);
    EXPECT_EQ(unknown.error().code, "NoSuchUpload");

    auto other_key = store_->begin_part("file_other.mp3", id, 1, 10);
    ASSERT_FALSE(other_key.has_value());
    EXPECT_EQ(other_key.error().code, "NoSuchUpload");

    for (std::uint32_t bad : {0u, 10001u}) {
        auto r = store_->begin_part(kKey, id, bad, 10);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
        EXPECT_EQ(r.error().code, "InvalidArgument");
    }
    EXPECT_TRUE(store_->begin_part(kKey, id, 10000, 100).has_value());
}

TEST_F(LocalStoreTest, PartOverTheUploadsPartSizeIsRefusedBeforeItsBody) {
    const auto id = create(kKey, 100);
    auto r = store_->begin_part(kKey, id, 1, 101);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, core::ErrorKind::too_large);
    EXPECT_EQ(r.error().code, "EntityTooLarge");
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, UncommittedWriterLeavesNothingBehind) {
    const auto id = create(kKey);
    {
        auto writer = store_->begin_part(kKey, id, 1, 10);
        ASSERT_TRUE(writer.has_value());
        ASSERT_TRUE((*writer)->write(as_bytes("12345")).has_value());
        EXPECT_EQ(count_entries(root_ / "tmp"), 1u);
    }
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
    EXPECT_TRUE(store_->list_parts(kKey, id)->empty());
}

TEST_F(LocalStoreTest, ContentMd5MismatchIsBadDigestAndStoresNothing) {
    const auto id = create(kKey);
    auto r = put_part(kKey, id, 1, "the body", core::md5("another body"));
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
    EXPECT_EQ(r.error().code, "BadDigest");
    EXPECT_TRUE(store_->list_parts(kKey, id)->empty());
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);

    auto ok = put_part(kKey, id, 1, "the body", core::md5("the body"));
    ASSERT_TRUE(ok.has_value());
    EXPECT_EQ(ok->etag, md5_hex("the body"));
}

TEST_F(LocalStoreTest, ShortBodyIsIncompleteAndStoresNothing) {
    const auto id = create(kKey);
    {
        auto writer = store_->begin_part(kKey, id, 1, 10);
        ASSERT_TRUE(writer.has_value());
        ASSERT_TRUE((*writer)->write(as_bytes("123")).has_value());
        auto r = (*writer)->commit(std::nullopt);
        ASSERT_FALSE(r.has_value());
        EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
        EXPECT_EQ(r.error().code, "IncompleteBody");
    }
    EXPECT_TRUE(store_->list_parts(kKey, id)->empty());
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, BodyLongerThanItsContentLengthIsRefused) {
    const auto id = create(kKey);
    auto writer = store_->begin_part(kKey, id, 1, 3);
    ASSERT_TRUE(writer.has_value());
    EXPECT_FALSE((*writer)->write(as_bytes("1234")).has_value());
    EXPECT_FALSE((*writer)->commit(std::nullopt).has_value());
}

TEST_F(LocalStoreTest, EmptyPartIsAllowed) {
    const auto id = create(kKey);
    auto r = put_part(kKey, id, 1, "");
    ASSERT_TRUE(r.has_value());
    EXPECT_EQ(r->etag, md5_hex(""));
    EXPECT_EQ(r->size, 0u);
}

TEST_F(LocalStoreTest, CompleteAssemblesPartsInPartNumberOrder) {
    const auto id = create(kKey);
    const std::string p1 = pattern_bytes(5000, 1), p2 = pattern_bytes(5000, 2),
                      p3 = pattern_bytes(1234, 3);
    // Arrival order differs from part order, as with parallel uploads.
    auto e3 = put_part(kKey, id, 3, p3);
    auto e1 = put_part(kKey, id, 1, p1);
    auto e2 = put_part(kKey, id, 2, p2);
    ASSERT_TRUE(e1 && e2 && e3);

    auto info =
        store_->complete(kKey, id, {{1, e1->etag}, {2, e2->etag}, {3, e3->etag}}, std::nullopt);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->size, p1.size() + p2.size() + p3.size());
    EXPECT_EQ(info->md5, md5_hex(p1 + p2 + p3));
    EXPECT_EQ(read_all(kKey), p1 + p2 + p3);

    auto stat = store_->stat(kKey);
    ASSERT_TRUE(stat.has_value());
    EXPECT_EQ(stat->size, info->size);
    EXPECT_EQ(stat->md5, info->md5);

    auto reader = store_->open_object(kKey);
    ASSERT_TRUE(reader.has_value());
    EXPECT_EQ((*reader)->md5(), info->md5);
    EXPECT_EQ((*reader)->last_modified(), core::from_unix(core::to_unix(clock_.now())));

    EXPECT_FALSE(std::filesystem::exists(upload_dir(id)));
    auto gone = store_->list_parts(kKey, id);
    ASSERT_FALSE(gone.has_value());
    EXPECT_EQ(gone.error().code, "NoSuchUpload");
}

TEST_F(LocalStoreTest, CompleteAcceptsQuotedUppercaseEtagsAndMatchingMd5) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "abc");
    ASSERT_TRUE(e1.has_value());
    std::string upper = e1->etag;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    auto info = store_->complete(kKey, id, {{1, "\"" + upper + "\""}}, md5_hex("abc"));
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(info->md5, md5_hex("abc"));
}

TEST_F(LocalStoreTest, Md5MismatchIsBadDigestAndLeavesTheUploadOpen) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "wrong bytes");
    ASSERT_TRUE(e1.has_value());
    const std::string wanted = md5_hex("right bytes");

    auto r = store_->complete(kKey, id, {{1, e1->etag}}, wanted);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
    EXPECT_EQ(r.error().code, "BadDigest");
    EXPECT_NE(r.error().message.find(wanted), std::string::npos);
    EXPECT_NE(r.error().message.find(md5_hex("wrong bytes")), std::string::npos);
    EXPECT_FALSE(store_->stat(kKey).has_value());
    EXPECT_FALSE(std::filesystem::exists(upload_dir(id) / "manifest.json"));

    // The client re-sends the part and completes again.
    auto e1b = put_part(kKey, id, 1, "right bytes");
    ASSERT_TRUE(e1b.has_value());
    auto info = store_->complete(kKey, id, {{1, e1b->etag}}, wanted);
    ASSERT_TRUE(info.has_value()) << info.error().message;
    EXPECT_EQ(read_all(kKey), "right bytes");
}

TEST_F(LocalStoreTest, WrongOrMissingPartsAreInvalidPartAndLeaveTheUploadOpen) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "one");
    auto e2 = put_part(kKey, id, 2, "two");
    ASSERT_TRUE(e1 && e2);

    const std::string stale = md5_hex("an older two");
    auto wrong = store_->complete(kKey, id, {{1, e1->etag}, {2, stale}}, std::nullopt);
    ASSERT_FALSE(wrong.has_value());
    EXPECT_EQ(wrong.error().code, "InvalidPart");
    EXPECT_NE(wrong.error().message.find("part 2"), std::string::npos);
    EXPECT_NE(wrong.error().message.find(stale), std::string::npos);
    EXPECT_NE(wrong.error().message.find(e2->etag), std::string::npos);

    auto missing = store_->complete(kKey, id, {{1, e1->etag}, {3, e2->etag}}, std::nullopt);
    ASSERT_FALSE(missing.has_value());
    EXPECT_EQ(missing.error().code, "InvalidPart");

    auto order = store_->complete(kKey, id, {{2, e2->etag}, {1, e1->etag}}, std::nullopt);
    ASSERT_FALSE(order.has_value());
    EXPECT_EQ(order.error().code, "InvalidPartOrder");

    auto none = store_->complete(kKey, id, {}, std::nullopt);
    ASSERT_FALSE(none.has_value());
    EXPECT_EQ(none.error().kind, core::ErrorKind::invalid_input);

    EXPECT_EQ(store_->list_parts(kKey, id)->size(), 2u);
    EXPECT_TRUE(store_->complete(kKey, id, {{1, e1->etag}, {2, e2->etag}}, std::nullopt));
}

TEST_F(LocalStoreTest, SecondCompleteWithTheSamePartsAnswersTheSameObject) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "payload");
    ASSERT_TRUE(e1.has_value());
    auto first = store_->complete(kKey, id, {{1, e1->etag}}, std::nullopt);
    ASSERT_TRUE(first.has_value());
    clock_.advance(core::Seconds{60});

    auto again = store_->complete(kKey, id, {{1, e1->etag}}, md5_hex("payload"));
    ASSERT_TRUE(again.has_value()) << again.error().message;
    EXPECT_EQ(again->size, first->size);
    EXPECT_EQ(again->md5, first->md5);

    auto different = store_->complete(kKey, id, {{1, md5_hex("other")}}, std::nullopt);
    ASSERT_FALSE(different.has_value());
    EXPECT_EQ(different.error().code, "NoSuchUpload");
    EXPECT_EQ(read_all(kKey), "payload");
}

TEST_F(LocalStoreTest, PartsLeftOutOfTheCompleteAreDropped) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "keep one ");
    auto e2 = put_part(kKey, id, 2, "keep two");
    auto e3 = put_part(kKey, id, 3, "drop three");
    ASSERT_TRUE(e1 && e2 && e3);
    auto info = store_->complete(kKey, id, {{1, e1->etag}, {2, e2->etag}}, std::nullopt);
    ASSERT_TRUE(info.has_value());
    EXPECT_EQ(read_all(kKey), "keep one keep two");
    EXPECT_FALSE(std::filesystem::exists(object_dir(kKey) / ("00003." + e3->etag)));
}

TEST_F(LocalStoreTest, CompletingAnotherUploadOfTheSameKeyReplacesTheObject) {
    const auto first = create(kKey);
    auto a = put_part(kKey, first, 1, "old object");
    ASSERT_TRUE(a && store_->complete(kKey, first, {{1, a->etag}}, std::nullopt));
    const auto second = create(kKey);
    auto b = put_part(kKey, second, 1, "new object");
    ASSERT_TRUE(b && store_->complete(kKey, second, {{1, b->etag}}, std::nullopt));
    EXPECT_EQ(read_all(kKey), "new object");
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
}

TEST_F(LocalStoreTest, PartCommittedAfterCompleteIsRefused) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "one");
    ASSERT_TRUE(e1.has_value());
    auto late = store_->begin_part(kKey, id, 2, 4);
    ASSERT_TRUE(late.has_value());
    ASSERT_TRUE((*late)->write(as_bytes("late")).has_value());
    ASSERT_TRUE(store_->complete(kKey, id, {{1, e1->etag}}, std::nullopt));
    auto r = (*late)->commit(std::nullopt);
    ASSERT_FALSE(r.has_value());
    EXPECT_EQ(r.error().code, "NoSuchUpload");
    late->reset();
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
    EXPECT_EQ(read_all(kKey), "one");
}

TEST_F(LocalStoreTest, AbortDropsTheUploadAndItsParts) {
    const auto id = create(kKey);
    ASSERT_TRUE(put_part(kKey, id, 1, "bytes"));
    auto wrong_key = store_->abort("file_other.mp3", id);
    ASSERT_FALSE(wrong_key.has_value());
    EXPECT_EQ(wrong_key.error().code, "NoSuchUpload");

    ASSERT_TRUE(store_->abort(kKey, id).has_value());
    EXPECT_FALSE(std::filesystem::exists(upload_dir(id)));
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
    EXPECT_EQ(store_->list_parts(kKey, id).error().code, "NoSuchUpload");
    EXPECT_EQ(store_->begin_part(kKey, id, 1, 1).error().code, "NoSuchUpload");
    auto again = store_->abort(kKey, id);
    ASSERT_FALSE(again.has_value());
    EXPECT_EQ(again.error().kind, core::ErrorKind::not_found);
    EXPECT_EQ(again.error().code, "NoSuchUpload");
}

TEST_F(LocalStoreTest, RemoveDeletesTheObjectAndAbsentObjectsAreFine) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "bytes");
    ASSERT_TRUE(e1 && store_->complete(kKey, id, {{1, e1->etag}}, std::nullopt));

    ASSERT_TRUE(store_->remove(kKey).has_value());
    EXPECT_FALSE(std::filesystem::exists(object_dir(kKey)));
    EXPECT_EQ(count_entries(root_ / "tmp"), 0u);
    EXPECT_EQ(store_->stat(kKey).error().code, "NoSuchKey");
    EXPECT_EQ(store_->open_object(kKey).error().code, "NoSuchKey");
    EXPECT_TRUE(store_->remove(kKey).has_value());
    EXPECT_TRUE(store_->remove("file_never.mp3").has_value());
}

TEST_F(LocalStoreTest, OpenReaderOutlivesRemove) {
    const auto id = create(kKey);
    auto e1 = put_part(kKey, id, 1, "still readable");
    ASSERT_TRUE(e1 && store_->complete(kKey, id, {{1, e1->etag}}, std::nullopt));
    auto reader = store_->open_object(kKey);
    ASSERT_TRUE(reader.has_value());
    ASSERT_TRUE(store_->remove(kKey).has_value());
    std::string out(14, '\0');
    auto n = (*reader)->read(
        0, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
    ASSERT_TRUE(n.has_value());
    EXPECT_EQ(out, "still readable");
}

TEST_F(LocalStoreTest, InvalidKeysAreRefusedWithoutTouchingTheDisk) {
    // A file outside the store that a traversal would reach.
    std::filesystem::create_directories(base_ / "victim");
    std::ofstream(base_ / "victim" / "manifest.json") << "{}";

    const std::vector<std::string> keys = {
        "../victim", "..", ".hidden", "a/b", "", std::string(201, 'k'), std::string("nul\0", 4)};
    for (const auto& key : keys) {
        SCOPED_TRACE(key);
        auto created = store_->create_multipart(key, kPartSize);
        ASSERT_FALSE(created.has_value());
        EXPECT_EQ(created.error().kind, core::ErrorKind::invalid_input);
        EXPECT_EQ(store_->stat(key).error().code, "NoSuchKey");
        EXPECT_EQ(store_->open_object(key).error().code, "NoSuchKey");
        EXPECT_EQ(store_->remove(key).error().kind, core::ErrorKind::invalid_input);
        EXPECT_EQ(store_->presign_get(key, core::Seconds{60}).error().kind,
                  core::ErrorKind::invalid_input);
    }
    EXPECT_TRUE(std::filesystem::exists(base_ / "victim" / "manifest.json"));
}

TEST_F(LocalStoreTest, InvalidUploadIdsAreNoSuchUpload) {
    std::filesystem::create_directories(base_ / "victim");
    std::ofstream(base_ / "victim" / "upload.json")
        << R"({"key":"file_abc.mp3","max_part_size":100,"created":0})";

    const std::vector<std::string> ids = {"../../victim", "../victim", "mpu_../../victim", "",
                                          "mpu_abcdefghijklmnopqrstuvwxy/"};
    for (const auto& id : ids) {
        SCOPED_TRACE(id);
        EXPECT_EQ(store_->begin_part(kKey, id, 1, 1).error().code, "NoSuchUpload");
        EXPECT_EQ(store_->list_parts(kKey, id).error().code, "NoSuchUpload");
        EXPECT_EQ(store_->abort(kKey, id).error().code, "NoSuchUpload");
        EXPECT_EQ(store_->complete(kKey, id, {{1, md5_hex("")}}, std::nullopt).error().code,
                  "NoSuchUpload");
        EXPECT_FALSE(store_->presign_parts(kKey, id, 1, core::Seconds{60}).has_value());
    }
    EXPECT_TRUE(std::filesystem::exists(base_ / "victim" / "upload.json"));
}

TEST_F(LocalStoreTest, ConcurrentPartsOfOneUploadAllLand) {
    const auto id = create(kKey);
    constexpr int kThreads = 4, kPartsEach = 8;
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < kPartsEach; ++i) {
                const auto n = static_cast<std::uint32_t>(t * kPartsEach + i + 1);
                // Each thread also re-uploads a part another thread owns.
                const auto shared = static_cast<std::uint32_t>(1000 + i);
                if (!put_part(kKey, id, n, pattern_bytes(3000, n))) ++failures;
                if (!put_part(kKey, id, shared, pattern_bytes(100, t))) ++failures;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(failures.load(), 0);
    auto parts = store_->list_parts(kKey, id);
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ(parts->size(), static_cast<std::size_t>(kThreads * kPartsEach + kPartsEach));
    // One file per part plus upload.json: every re-upload removed what it replaced.
    EXPECT_EQ(count_entries(upload_dir(id)), parts->size() + 1);
}

}  // namespace
}  // namespace audiodrop::storage
