#include "upload/upload_service.hpp"

#include <gtest/gtest.h>

#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "conformance/temp_dir.hpp"
#include "metadata/sqlite_metadata_store.hpp"
#include "storage/local_object_store.hpp"
#include "unit/storage/local_store_fixture.hpp"

namespace audiodrop::upload {
namespace {

using core::ErrorKind;
using metadata::UploadState;
using storage::test_support::as_bytes;
using storage::test_support::FakeClock;
using storage::test_support::md5_hex;
using storage::test_support::pattern_bytes;

constexpr std::uint64_t kChunk = 5 * kMiB;
constexpr auto kTtl = std::chrono::hours(1);

const Owner kAlice{"partner_a", "user-alice"};
const Owner kBob{"partner_a", "user-bob"};               // same partner, another user
const Owner kAliceElsewhere{"partner_b", "user-alice"};  // same user_id, another partner

void expect_error(const core::Error& e, ErrorKind kind, const std::string& code) {
    EXPECT_EQ(e.kind, kind) << e.code << ": " << e.message;
    EXPECT_EQ(e.code, code) << e.message;
}

template <class T>
void expect_error(const core::Result<T>& r, ErrorKind kind, const std::string& code) {
    ASSERT_FALSE(r.has_value()) << "expected " << code;
    expect_error(r.error(), kind, code);
}

// The service over the real SQLite metadata store and the real local object store in
// a temp dir; parts arrive through the EmbeddedBucket side, as the storage endpoint
// delivers them after verifying a presigned PUT.
class UploadServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        auto metadata = metadata::SqliteMetadataStore::open(dir_.file("metadata.db"));
        ASSERT_TRUE(metadata.has_value()) << metadata.error().message;
        metadata_ = std::move(*metadata);

        storage::LocalObjectStore::Options o;
        o.root = dir_.path() / "objects";
        o.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
        o.public_url = "http://127.0.0.1:8081";
        auto objects = storage::LocalObjectStore::open(o, clock_);
        ASSERT_TRUE(objects.has_value()) << objects.error().message;
        objects_ = std::move(*objects);

        service_ = std::make_unique<UploadService>(*metadata_, *objects_, clock_, options());
    }

    static UploadOptions options() {
        UploadOptions o;
        o.max_file_size = 64 * kMiB;
        o.allowed_filetypes = {"mp3", "m4a", "wav"};
        o.upload_ttl = kTtl;
        o.download_url_ttl = std::chrono::hours(24);
        o.max_open_uploads_per_user = 3;
        return o;
    }

    StartedUpload start(std::uint64_t filesize, const Owner& owner = kAlice,
                        std::string_view filetype = "mp3") {
        auto started = service_->generate(owner, filesize, filetype);
        EXPECT_TRUE(started.has_value()) << started.error().code << ": " << started.error().message;
        return started ? *started : StartedUpload{};
    }

    metadata::UploadRecord record(const std::string& file_id) {
        auto found = metadata_->find_upload(file_id);
        EXPECT_TRUE(found.has_value() && found->has_value()) << "no record of " << file_id;
        return found && *found ? **found : metadata::UploadRecord{};
    }

    // PUTs one part as the storage endpoint would and returns its ETag as the PUT
    // answers it (quoted).
    std::string put_part(const std::string& file_id, std::uint32_t n, std::string_view body) {
        const auto u = record(file_id);
        auto writer = objects_->begin_part(u.object_key, u.storage_upload_id, n, body.size());
        EXPECT_TRUE(writer.has_value()) << writer.error().code;
        if (!writer) return {};
        EXPECT_TRUE((*writer)->write(as_bytes(body)).has_value());
        auto info = (*writer)->commit(std::nullopt);
        EXPECT_TRUE(info.has_value()) << info.error().code;
        return info ? "\"" + info->etag + "\"" : std::string();
    }

    // Uploads `bytes` in ChunkSize parts; returns the part_list to complete with.
    std::vector<RequestedPart> put_all(const StartedUpload& s, const std::string& bytes) {
        std::vector<RequestedPart> list;
        for (std::uint32_t n = 1; n <= s.parts.size(); ++n) {
            const auto at = (n - 1) * s.chunk_size;
            list.push_back(
                {n, put_part(s.file_id, n, std::string_view(bytes).substr(at, s.chunk_size))});
        }
        return list;
    }

    static CompleteRequest request(const StartedUpload& s, std::vector<RequestedPart> list,
                                   std::optional<std::string> file_md5 = std::nullopt,
                                   std::string filetype = "mp3") {
        return CompleteRequest{s.file_id, s.upload_id, std::move(list), std::move(filetype),
                               std::move(file_md5)};
    }

    // Starts, uploads and completes a file of `bytes`.
    StartedUpload uploaded(const std::string& bytes, const Owner& owner = kAlice) {
        auto s = start(bytes.size(), owner);
        auto done = service_->complete(owner, request(s, put_all(s, bytes)));
        EXPECT_TRUE(done.has_value()) << done.error().code << ": " << done.error().message;
        return s;
    }

    core::Result<std::unique_ptr<storage::PartWriter>> begin_part(const std::string& file_id) {
        const auto u = record(file_id);
        return objects_->begin_part(u.object_key, u.storage_upload_id, 1, 1);
    }

    std::string read_object(const std::string& key) {
        auto reader = objects_->open_object(key);
        EXPECT_TRUE(reader.has_value());
        if (!reader) return {};
        std::string out((*reader)->size(), '\0');
        std::size_t at = 0;
        while (at < out.size()) {
            auto n = (*reader)->read(
                at, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()) + at,
                                            out.size() - at));
            EXPECT_TRUE(n.has_value() && *n > 0);
            if (!n || *n == 0) break;
            at += *n;
        }
        return out;
    }

    test_support::TempDir dir_;  // declared first: outlives both stores
    FakeClock clock_;
    std::unique_ptr<metadata::SqliteMetadataStore> metadata_;
    std::unique_ptr<storage::LocalObjectStore> objects_;
    std::unique_ptr<UploadService> service_;
};

// --- generate -------------------------------------------------------------------------

TEST_F(UploadServiceTest, GeneratePlansPartsAndPresignsOneUrlPerPart) {
    const std::uint64_t filesize = 2 * kChunk + 123;
    auto s = service_->generate(kAlice, filesize, "mp3");
    ASSERT_TRUE(s.has_value()) << s.error().message;
    EXPECT_TRUE(s->file_id.starts_with("file_"));
    EXPECT_TRUE(s->upload_id.starts_with("upload_"));
    EXPECT_EQ(s->chunk_size, kChunk);
    ASSERT_EQ(s->parts.size(), 3u);
    std::set<std::string> urls;
    for (std::uint32_t n = 1; n <= 3; ++n) {
        const auto& p = s->parts[n - 1];
        EXPECT_EQ(p.part_number, n);
        EXPECT_TRUE(p.url.starts_with("http://127.0.0.1:8081/")) << p.url;
        EXPECT_NE(p.url.find("partNumber=" + std::to_string(n)), std::string::npos) << p.url;
        EXPECT_NE(p.url.find("X-Amz-Signature="), std::string::npos) << p.url;
        urls.insert(p.url);
    }
    EXPECT_EQ(urls.size(), 3u);

    const auto u = record(s->file_id);
    EXPECT_EQ(u.upload_id, s->upload_id);
    EXPECT_EQ(u.client_id, kAlice.client_id);
    EXPECT_EQ(u.user_id, kAlice.user_id);
    EXPECT_EQ(u.state, UploadState::open);
    EXPECT_EQ(u.filesize, filesize);
    EXPECT_EQ(u.chunk_size, kChunk);
    EXPECT_EQ(u.part_count, 3u);
    EXPECT_EQ(u.expires_at, clock_.now() + kTtl);
}

TEST_F(UploadServiceTest, GenerateUrlCountEqualsPartCountAtEveryBoundary) {
    for (std::uint64_t filesize : {std::uint64_t{1}, kChunk, kChunk + 1, 12 * kChunk}) {
        SCOPED_TRACE(filesize);
        auto s = service_->generate(Owner{"partner_a", "user-" + std::to_string(filesize)},
                                    filesize, "wav");
        ASSERT_TRUE(s.has_value()) << s.error().message;
        EXPECT_EQ(s->parts.size(), plan_parts(filesize).part_count);
        EXPECT_EQ(s->parts.size(), record(s->file_id).part_count);
    }
}

TEST_F(UploadServiceTest, GenerateComparesFiletypeCaseInsensitivelyAndStoresItLowercase) {
    auto s = start(1000, kAlice, "MP3");
    ASSERT_FALSE(s.file_id.empty());
    const auto u = record(s.file_id);
    EXPECT_EQ(u.filetype, "mp3");
    EXPECT_TRUE(u.object_key.ends_with(".mp3")) << u.object_key;
    EXPECT_TRUE(service_->generate(kAlice, 1000, "M4a").has_value());
}

TEST_F(UploadServiceTest, GenerateRefusesAFiletypeOffTheAllowList) {
    for (const char* type : {"exe", "", "mp4", "mp3 ", ".mp3"}) {
        SCOPED_TRACE(type);
        expect_error(service_->generate(kAlice, 1000, type), ErrorKind::invalid_input,
                     "unsupported_filetype");
    }
}

TEST_F(UploadServiceTest, GenerateRefusesZeroFilesize) {
    expect_error(service_->generate(kAlice, 0, "mp3"), ErrorKind::invalid_input,
                 "invalid_filesize");
}

TEST_F(UploadServiceTest, GenerateAcceptsTheMaximumAndRefusesOneByteMore) {
    EXPECT_TRUE(service_->generate(kAlice, options().max_file_size, "mp3").has_value());
    expect_error(service_->generate(kAlice, options().max_file_size + 1, "mp3"),
                 ErrorKind::invalid_input, "filesize_too_large");
}

TEST_F(UploadServiceTest, GenerateRefusesPastTheOpenUploadQuotaPerUser) {
    std::vector<StartedUpload> open;
    for (int i = 0; i < 3; ++i) open.push_back(start(1000));
    auto refused = service_->generate(kAlice, 1000, "mp3");
    expect_error(refused, ErrorKind::rate_limited, "too_many_open_uploads");
    ASSERT_FALSE(refused.has_value());
    EXPECT_EQ(refused.error().retry_after_seconds, 60);

    // The quota is per user: another user of the same partner, or the same user_id
    // under another partner, is not affected.
    EXPECT_TRUE(service_->generate(kBob, 1000, "mp3").has_value());
    EXPECT_TRUE(service_->generate(kAliceElsewhere, 1000, "mp3").has_value());

    // Finishing an upload (abort or complete) frees its slot.
    ASSERT_TRUE(service_->abort(kAlice, open[0].file_id, open[0].upload_id).has_value());
    auto again = service_->generate(kAlice, 1000, "mp3");
    ASSERT_TRUE(again.has_value());
    expect_error(service_->generate(kAlice, 1000, "mp3"), ErrorKind::rate_limited,
                 "too_many_open_uploads");
    const std::string bytes = pattern_bytes(1000, 1);
    ASSERT_TRUE(service_->complete(kAlice, request(open[1], put_all(open[1], bytes))).has_value());
    EXPECT_TRUE(service_->generate(kAlice, 1000, "mp3").has_value());
}

// --- complete -------------------------------------------------------------------------

TEST_F(UploadServiceTest, CompleteAssemblesThePartsAndAnswersTheirMd5) {
    const std::string bytes = pattern_bytes(2 * kChunk + 4321, 7);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    ASSERT_EQ(list.size(), 3u);

    auto done = service_->complete(kAlice, request(s, list, md5_hex(bytes)));
    ASSERT_TRUE(done.has_value()) << done.error().code << ": " << done.error().message;
    EXPECT_EQ(done->file_id, s.file_id);
    EXPECT_EQ(done->filetype, "mp3");
    EXPECT_EQ(done->file_md5, md5_hex(bytes));
    EXPECT_TRUE(done->download_url.starts_with("http://127.0.0.1:8081/")) << done->download_url;
    EXPECT_NE(done->download_url.find("X-Amz-Expires=86400"), std::string::npos)
        << done->download_url;

    const auto u = record(s.file_id);
    EXPECT_EQ(u.state, UploadState::completed);
    EXPECT_EQ(u.file_md5, md5_hex(bytes));
    EXPECT_NE(done->download_url.find(u.object_key), std::string::npos);
    EXPECT_EQ(read_object(u.object_key), bytes);
}

TEST_F(UploadServiceTest, CompleteWithoutFileMd5StillAnswersTheStoredMd5) {
    const std::string bytes = pattern_bytes(1000, 2);
    auto s = start(bytes.size());
    auto done = service_->complete(kAlice, request(s, put_all(s, bytes)));
    ASSERT_TRUE(done.has_value()) << done.error().message;
    EXPECT_EQ(done->file_md5, md5_hex(bytes));
}

TEST_F(UploadServiceTest, CompleteAcceptsUppercaseFileMd5AndUnquotedUppercaseEtags) {
    const std::string bytes = pattern_bytes(1000, 3);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    std::string md5 = md5_hex(bytes);
    for (auto* text : {&md5, &list[0].etag}) {
        for (auto& c : *text) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
    list[0].etag = list[0].etag.substr(1, 32);
    auto done = service_->complete(kAlice, request(s, list, md5, "MP3"));
    ASSERT_TRUE(done.has_value()) << done.error().code << ": " << done.error().message;
    EXPECT_EQ(done->file_md5, md5_hex(bytes));
}

TEST_F(UploadServiceTest, CompleteRetriedWithTheSamePartListAnswersTheSameResult) {
    const std::string bytes = pattern_bytes(kChunk + 10, 4);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    auto first = service_->complete(kAlice, request(s, list, md5_hex(bytes)));
    ASSERT_TRUE(first.has_value()) << first.error().message;

    clock_.advance(std::chrono::seconds(30));
    auto second = service_->complete(kAlice, request(s, list, md5_hex(bytes)));
    ASSERT_TRUE(second.has_value()) << second.error().code << ": " << second.error().message;
    EXPECT_EQ(second->file_id, first->file_id);
    EXPECT_EQ(second->filetype, first->filetype);
    EXPECT_EQ(second->file_md5, first->file_md5);
    EXPECT_FALSE(second->download_url.empty());
    EXPECT_NE(second->download_url, first->download_url) << "a fresh DownloadUrl";

    // The same list spelled differently (no quotes) is the same list.
    for (auto& p : list) p.etag = p.etag.substr(1, 32);
    auto third = service_->complete(kAlice, request(s, list));
    ASSERT_TRUE(third.has_value()) << third.error().code;
    EXPECT_EQ(third->file_md5, first->file_md5);

    // Even once the upload's own TTL has passed, the completed file answers.
    clock_.advance(2 * kTtl);
    EXPECT_TRUE(service_->complete(kAlice, request(s, list)).has_value());
    EXPECT_EQ(read_object(record(s.file_id).object_key), bytes);
}

TEST_F(UploadServiceTest, ConcurrentCompletesWithTheSameListAllAnswerTheSameFile) {
    const std::string bytes = pattern_bytes(kChunk + 100, 25);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    std::vector<core::Result<CompletedFile>> results(
        4, core::make_error(ErrorKind::internal, "not_run", "thread did not run"));
    {
        std::vector<std::jthread> threads;
        for (std::size_t i = 0; i < results.size(); ++i) {
            threads.emplace_back(
                [&, i] { results[i] = service_->complete(kAlice, request(s, list)); });
        }
    }
    for (const auto& r : results) {
        ASSERT_TRUE(r.has_value()) << r.error().code << ": " << r.error().message;
        EXPECT_EQ(r->file_md5, md5_hex(bytes));
    }
    EXPECT_EQ(record(s.file_id).state, UploadState::completed);
    EXPECT_EQ(read_object(record(s.file_id).object_key), bytes);
}

TEST_F(UploadServiceTest, CompleteWithAnotherPartListAfterCompletionIsAConflict) {
    const std::string bytes = pattern_bytes(1000, 5);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    ASSERT_TRUE(service_->complete(kAlice, request(s, list)).has_value());

    // A well-formed list whose part 1 names other bytes than the accepted one.
    auto other = list;
    other[0].etag = "\"" + md5_hex("something else") + "\"";
    expect_error(service_->complete(kAlice, request(s, other)), ErrorKind::conflict,
                 "upload_completed");
    EXPECT_EQ(read_object(record(s.file_id).object_key), bytes);
}

TEST_F(UploadServiceTest, CompleteWithAWrongFileMd5FailsAndLeavesTheUploadOpen) {
    const std::string bytes = pattern_bytes(kChunk + 77, 6);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);

    expect_error(service_->complete(kAlice, request(s, list, md5_hex("not these bytes"))),
                 ErrorKind::invalid_input, "md5_mismatch");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
    auto parts = service_->list_parts(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(parts.has_value()) << parts.error().code;
    EXPECT_EQ(parts->parts.size(), 2u);

    // Re-send a part, as the error suggests, then complete with the right MD5.
    list[1].etag = put_part(s.file_id, 2, std::string_view(bytes).substr(kChunk));
    auto done = service_->complete(kAlice, request(s, list, md5_hex(bytes)));
    ASSERT_TRUE(done.has_value()) << done.error().code << ": " << done.error().message;
    EXPECT_EQ(done->file_md5, md5_hex(bytes));
    EXPECT_EQ(record(s.file_id).state, UploadState::completed);
}

TEST_F(UploadServiceTest, CompleteRefusesAFileMd5ThatIsNotHex) {
    const std::string bytes = pattern_bytes(1000, 8);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    expect_error(service_->complete(kAlice, request(s, list, "xyz")), ErrorKind::invalid_input,
                 "invalid_file_md5");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
}

TEST_F(UploadServiceTest, CompleteRefusesAnotherFiletypeThanTheUploadWasStartedWith) {
    const std::string bytes = pattern_bytes(1000, 9);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    expect_error(service_->complete(kAlice, request(s, list, std::nullopt, "wav")),
                 ErrorKind::invalid_input, "filetype_mismatch");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
    EXPECT_TRUE(service_->complete(kAlice, request(s, list, std::nullopt, "Mp3")).has_value());
}

TEST_F(UploadServiceTest, CompleteRefusesAPartThatWasNotUploaded) {
    const std::string bytes = pattern_bytes(kChunk + 1, 10);
    auto s = start(bytes.size());
    std::vector<RequestedPart> list{
        {1, put_part(s.file_id, 1, std::string_view(bytes).substr(0, kChunk))},
        {2, "\"" + md5_hex(bytes.substr(kChunk)) + "\""}};
    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::invalid_input,
                 "invalid_part");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
}

TEST_F(UploadServiceTest, CompleteRefusesPartsOfTheWrongSize) {
    const std::string bytes = pattern_bytes(kChunk + 100, 11);
    auto s = start(bytes.size());
    // A short middle part with a last part that makes up the total.
    std::vector<RequestedPart> list{
        {1, put_part(s.file_id, 1, std::string_view(bytes).substr(0, kChunk - 1))},
        {2, put_part(s.file_id, 2, std::string_view(bytes).substr(kChunk - 1, 101))}};
    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::invalid_input,
                 "invalid_part_size");

    // A last part one byte short.
    list[0].etag = put_part(s.file_id, 1, std::string_view(bytes).substr(0, kChunk));
    list[1].etag = put_part(s.file_id, 2, std::string_view(bytes).substr(kChunk, 99));
    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::invalid_input,
                 "invalid_part_size");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
}

TEST_F(UploadServiceTest, CompleteRefusesAPartListThatDoesNotNameEveryPart) {
    const std::string bytes = pattern_bytes(kChunk + 1, 12);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    list.pop_back();
    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::invalid_input,
                 "invalid_part_list");
}

// --- ownership ------------------------------------------------------------------------

TEST_F(UploadServiceTest, AnotherOwnersUploadIsNotFoundForEveryCall) {
    const std::string bytes = pattern_bytes(1000, 13);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);

    for (const Owner* other : {&kBob, &kAliceElsewhere}) {
        SCOPED_TRACE(other->client_id + "/" + other->user_id);
        expect_error(service_->complete(*other, request(s, list)), ErrorKind::not_found,
                     "upload_not_found");
        expect_error(service_->list_parts(*other, s.file_id, s.upload_id), ErrorKind::not_found,
                     "upload_not_found");
        expect_error(service_->abort(*other, s.file_id, s.upload_id), ErrorKind::not_found,
                     "upload_not_found");
        expect_error(service_->get_file(*other, s.file_id), ErrorKind::not_found, "file_not_found");
        expect_error(service_->delete_file(*other, s.file_id), ErrorKind::not_found,
                     "file_not_found");
    }

    // None of that touched the owner's upload.
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
    ASSERT_TRUE(service_->complete(kAlice, request(s, list)).has_value());
    expect_error(service_->get_file(kBob, s.file_id), ErrorKind::not_found, "file_not_found");
    expect_error(service_->delete_file(kAliceElsewhere, s.file_id), ErrorKind::not_found,
                 "file_not_found");
    EXPECT_EQ(read_object(record(s.file_id).object_key), bytes);
}

TEST_F(UploadServiceTest, AnUnknownFileIdIsNotFound) {
    expect_error(service_->get_file(kAlice, "file_doesnotexist"), ErrorKind::not_found,
                 "file_not_found");
    expect_error(service_->delete_file(kAlice, "file_doesnotexist"), ErrorKind::not_found,
                 "file_not_found");
    expect_error(service_->list_parts(kAlice, "file_doesnotexist", "upload_x"),
                 ErrorKind::not_found, "upload_not_found");
}

TEST_F(UploadServiceTest, AnUploadIdOfAnotherUploadIsNotFound) {
    const std::string bytes = pattern_bytes(1000, 14);
    auto s = start(bytes.size());
    auto other = start(1000);
    auto list = put_all(s, bytes);

    CompleteRequest req = request(s, list);
    req.upload_id = other.upload_id;
    expect_error(service_->complete(kAlice, req), ErrorKind::not_found, "upload_not_found");
    expect_error(service_->list_parts(kAlice, s.file_id, other.upload_id), ErrorKind::not_found,
                 "upload_not_found");
    expect_error(service_->abort(kAlice, s.file_id, "upload_bogus"), ErrorKind::not_found,
                 "upload_not_found");
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
    EXPECT_EQ(record(other.file_id).state, UploadState::open);
}

// --- list_parts / abort ---------------------------------------------------------------

TEST_F(UploadServiceTest, ListPartsAnswersThePartsReceivedSoFar) {
    const std::string bytes = pattern_bytes(2 * kChunk + 5, 15);
    auto s = start(bytes.size());
    auto none = service_->list_parts(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(none.has_value());
    EXPECT_TRUE(none->parts.empty());
    EXPECT_EQ(none->upload.file_id, s.file_id);

    put_part(s.file_id, 3, std::string_view(bytes).substr(2 * kChunk));
    put_part(s.file_id, 1, std::string_view(bytes).substr(0, kChunk));
    auto got = service_->list_parts(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(got.has_value());
    ASSERT_EQ(got->parts.size(), 2u);
    EXPECT_EQ(got->parts[0].part_number, 1u);
    EXPECT_EQ(got->parts[0].size, kChunk);
    EXPECT_EQ(got->parts[0].etag, md5_hex(bytes.substr(0, kChunk)));
    EXPECT_EQ(got->parts[1].part_number, 3u);
    EXPECT_EQ(got->parts[1].size, 5u);
    EXPECT_EQ(got->parts[1].etag, md5_hex(bytes.substr(2 * kChunk)));
}

TEST_F(UploadServiceTest, AbortDropsThePartsAndACompleteAfterItIsAConflict) {
    const std::string bytes = pattern_bytes(1000, 16);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);

    auto aborted = service_->abort(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(aborted.has_value()) << aborted.error().code;
    EXPECT_EQ(aborted->state, UploadState::aborted);
    EXPECT_EQ(record(s.file_id).state, UploadState::aborted);
    expect_error(begin_part(s.file_id), ErrorKind::not_found, "NoSuchUpload");

    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::conflict,
                 "upload_aborted");
    expect_error(service_->list_parts(kAlice, s.file_id, s.upload_id), ErrorKind::conflict,
                 "upload_aborted");
    auto twice = service_->abort(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(twice.has_value()) << "aborting twice is harmless";
    EXPECT_EQ(twice->state, UploadState::aborted);
}

TEST_F(UploadServiceTest, AbortOfACompletedUploadIsAConflictAndKeepsTheFile) {
    const std::string bytes = pattern_bytes(1000, 17);
    auto s = uploaded(bytes);
    expect_error(service_->abort(kAlice, s.file_id, s.upload_id), ErrorKind::conflict,
                 "upload_completed");
    EXPECT_EQ(record(s.file_id).state, UploadState::completed);
    EXPECT_EQ(read_object(record(s.file_id).object_key), bytes);
}

// --- expiry ---------------------------------------------------------------------------

TEST_F(UploadServiceTest, AnUploadPastItsTtlIsGone) {
    const std::string bytes = pattern_bytes(1000, 18);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    clock_.advance(kTtl + std::chrono::seconds(1));

    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::gone, "upload_expired");
    expect_error(service_->list_parts(kAlice, s.file_id, s.upload_id), ErrorKind::gone,
                 "upload_expired");
    expect_error(service_->abort(kAlice, s.file_id, s.upload_id), ErrorKind::gone,
                 "upload_expired");
    auto view = service_->get_file(kAlice, s.file_id);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->upload.state, UploadState::expired);
    EXPECT_FALSE(view->download_url.has_value());
}

TEST_F(UploadServiceTest, AnUploadJustBeforeItsTtlCanStillComplete) {
    const std::string bytes = pattern_bytes(1000, 19);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);
    clock_.advance(kTtl - std::chrono::seconds(1));
    EXPECT_TRUE(service_->complete(kAlice, request(s, list)).has_value());
}

TEST_F(UploadServiceTest, SweepExpiresAbandonedUploadsAndReleasesTheirParts) {
    const std::string bytes = pattern_bytes(1000, 20);
    auto s = start(bytes.size());
    auto list = put_all(s, bytes);

    auto early = service_->sweep_expired(100);
    ASSERT_TRUE(early.has_value());
    EXPECT_EQ(*early, 0u) << "nothing has expired yet";
    EXPECT_TRUE(begin_part(s.file_id).has_value());

    clock_.advance(kTtl + std::chrono::seconds(1));
    auto swept = service_->sweep_expired(100);
    ASSERT_TRUE(swept.has_value()) << swept.error().message;
    EXPECT_EQ(*swept, 1u);
    EXPECT_EQ(record(s.file_id).state, UploadState::expired);
    expect_error(begin_part(s.file_id), ErrorKind::not_found, "NoSuchUpload");
    expect_error(service_->complete(kAlice, request(s, list)), ErrorKind::gone, "upload_expired");

    auto again = service_->sweep_expired(100);
    ASSERT_TRUE(again.has_value());
    EXPECT_EQ(*again, 0u) << "a second sweep finds nothing more";
}

TEST_F(UploadServiceTest, SweepLeavesCompletedAndLiveUploadsAlone) {
    const std::string bytes = pattern_bytes(1000, 21);
    auto done = uploaded(bytes);
    auto abandoned = start(1000);
    clock_.advance(kTtl + std::chrono::seconds(1));
    auto live = start(1000);

    auto swept = service_->sweep_expired(100);
    ASSERT_TRUE(swept.has_value()) << swept.error().message;
    EXPECT_EQ(*swept, 1u);
    EXPECT_EQ(record(abandoned.file_id).state, UploadState::expired);
    EXPECT_EQ(record(live.file_id).state, UploadState::open);
    EXPECT_TRUE(begin_part(live.file_id).has_value());

    EXPECT_EQ(record(done.file_id).state, UploadState::completed);
    auto view = service_->get_file(kAlice, done.file_id);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->upload.state, UploadState::completed);
    EXPECT_TRUE(view->download_url.has_value());
    EXPECT_EQ(read_object(record(done.file_id).object_key), bytes);
}

TEST_F(UploadServiceTest, PurgeForgetsAbortedAndExpiredUploadsOnlyAfterTheirRetention) {
    const std::string bytes = pattern_bytes(1000, 22);
    auto aborted = start(bytes.size());
    put_all(aborted, bytes);
    ASSERT_TRUE(service_->abort(kAlice, aborted.file_id, aborted.upload_id));
    auto expired = start(1000);
    auto completed = uploaded(bytes);
    clock_.advance(kTtl + std::chrono::seconds(1));
    ASSERT_TRUE(service_->sweep_expired(100));

    auto early = service_->purge_abandoned(100);
    ASSERT_TRUE(early.has_value()) << early.error().message;
    EXPECT_EQ(*early, 0u) << "still within the retention";
    EXPECT_EQ(service_->get_file(kAlice, aborted.file_id)->upload.state, UploadState::aborted);

    clock_.advance(options().abandoned_retention);
    auto purged = service_->purge_abandoned(100);
    ASSERT_TRUE(purged.has_value()) << purged.error().message;
    EXPECT_EQ(*purged, 2u);
    expect_error(service_->get_file(kAlice, aborted.file_id), ErrorKind::not_found,
                 "file_not_found");
    expect_error(service_->get_file(kAlice, expired.file_id), ErrorKind::not_found,
                 "file_not_found");
    EXPECT_EQ(service_->get_file(kAlice, completed.file_id)->upload.state, UploadState::completed);
}

TEST_F(UploadServiceTest, SweepExpiresAtMostOneBatchPerCall) {
    std::vector<StartedUpload> started;
    for (int i = 0; i < 3; ++i) started.push_back(start(1000));
    clock_.advance(kTtl + std::chrono::seconds(1));
    auto first = service_->sweep_expired(2);
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(*first, 2u);
    auto second = service_->sweep_expired(2);
    ASSERT_TRUE(second.has_value());
    EXPECT_EQ(*second, 1u);
    for (const auto& s : started) EXPECT_EQ(record(s.file_id).state, UploadState::expired);
}

TEST_F(UploadServiceTest, SweptUploadsNoLongerCountAgainstTheQuota) {
    for (int i = 0; i < 3; ++i) start(1000);
    expect_error(service_->generate(kAlice, 1000, "mp3"), ErrorKind::rate_limited,
                 "too_many_open_uploads");
    clock_.advance(kTtl + std::chrono::seconds(1));
    ASSERT_TRUE(service_->sweep_expired(100).has_value());
    EXPECT_TRUE(service_->generate(kAlice, 1000, "mp3").has_value());
}

// --- get_file / delete_file -----------------------------------------------------------

TEST_F(UploadServiceTest, GetFileReportsEachState) {
    auto open = start(1000);
    auto view = service_->get_file(kAlice, open.file_id);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->upload.state, UploadState::open);
    EXPECT_EQ(view->upload.filesize, 1000u);
    EXPECT_EQ(view->upload.filetype, "mp3");
    EXPECT_FALSE(view->download_url.has_value());

    const std::string bytes = pattern_bytes(1000, 22);
    auto done = uploaded(bytes);
    view = service_->get_file(kAlice, done.file_id);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->upload.state, UploadState::completed);
    EXPECT_EQ(view->upload.file_md5, md5_hex(bytes));
    ASSERT_TRUE(view->download_url.has_value());
    EXPECT_TRUE(view->download_url->starts_with("http://127.0.0.1:8081/"));

    auto aborted = start(1000);
    ASSERT_TRUE(service_->abort(kAlice, aborted.file_id, aborted.upload_id).has_value());
    view = service_->get_file(kAlice, aborted.file_id);
    ASSERT_TRUE(view.has_value());
    EXPECT_EQ(view->upload.state, UploadState::aborted);
    EXPECT_FALSE(view->download_url.has_value());
}

TEST_F(UploadServiceTest, DeleteFileRemovesACompletedFileAndItsBytes) {
    const std::string bytes = pattern_bytes(kChunk + 3, 23);
    auto s = uploaded(bytes);
    const auto key = record(s.file_id).object_key;

    ASSERT_TRUE(service_->delete_file(kAlice, s.file_id).has_value());
    expect_error(objects_->open_object(key), ErrorKind::not_found, "NoSuchKey");
    auto found = metadata_->find_upload(s.file_id);
    ASSERT_TRUE(found.has_value());
    EXPECT_FALSE(found->has_value());
    expect_error(service_->get_file(kAlice, s.file_id), ErrorKind::not_found, "file_not_found");
    expect_error(service_->delete_file(kAlice, s.file_id), ErrorKind::not_found, "file_not_found");
}

TEST_F(UploadServiceTest, DeleteFileOfAnOpenUploadDropsItsParts) {
    const std::string bytes = pattern_bytes(1000, 24);
    auto s = start(bytes.size());
    put_all(s, bytes);
    const auto u = record(s.file_id);

    ASSERT_TRUE(service_->delete_file(kAlice, s.file_id).has_value());
    expect_error(objects_->begin_part(u.object_key, u.storage_upload_id, 1, 1),
                 ErrorKind::not_found, "NoSuchUpload");
    auto found = metadata_->find_upload(s.file_id);
    ASSERT_TRUE(found.has_value());
    EXPECT_FALSE(found->has_value());
}

TEST_F(UploadServiceTest, DeleteFileOfAnAbortedUploadRemovesTheRecord) {
    auto s = start(1000);
    ASSERT_TRUE(service_->abort(kAlice, s.file_id, s.upload_id).has_value());
    ASSERT_TRUE(service_->delete_file(kAlice, s.file_id).has_value());
    expect_error(service_->get_file(kAlice, s.file_id), ErrorKind::not_found, "file_not_found");
}

// --- hand-off: content checks and the events state changes write ---------------------

class HandOffTest : public UploadServiceTest {
  protected:
    void SetUp() override {
        UploadServiceTest::SetUp();
        metadata::WebhookSubscription all;
        all.id = "whk_all";
        all.client_id = kAlice.client_id;
        all.url = "https://hooks.example.com/";
        all.events = {"file.uploaded", "file.deleted", "upload.aborted", "upload.expired"};
        all.secret = "whsec_x";
        ASSERT_TRUE(metadata_->create_webhook(all, 10).has_value());
    }

    void use(ContentCheck check) {
        auto o = options();
        o.content_check = check;
        o.event_written = [this] { ++wake_ups_; };
        service_ = std::make_unique<UploadService>(*metadata_, *objects_, clock_, o);
    }

    // The events queued so far, by type, each claimed once.
    std::vector<metadata::OutboxEvent> queued_events() {
        auto claimed =
            metadata_->claim_deliveries(clock_.now() + std::chrono::hours(1), std::chrono::hours(1),
                                        100, "claim-" + std::to_string(++claims_));
        EXPECT_TRUE(claimed.has_value());
        std::vector<metadata::OutboxEvent> out;
        if (claimed) {
            for (auto& d : *claimed) out.push_back(std::move(d.event));
        }
        return out;
    }

    int wake_ups_ = 0;
    int claims_ = 0;
};

TEST_F(HandOffTest, RecordKeepsTheAnswerAndNotesBytesThatAreNotTheDeclaredAudio) {
    use(ContentCheck::record);
    const std::string bytes = pattern_bytes(3000, 7);
    auto s = start(bytes.size());
    auto done = service_->complete(kAlice, request(s, put_all(s, bytes)));
    ASSERT_TRUE(done.has_value()) << done.error().message;
    const auto u = record(s.file_id);
    EXPECT_EQ(u.state, UploadState::completed);
    EXPECT_EQ(u.audio, "");
    EXPECT_NE(u.audio_problem, "");
    const auto events = queued_events();
    ASSERT_EQ(events.size(), 1u);
    EXPECT_EQ(events[0].type, "file.uploaded");
    EXPECT_EQ(events[0].object_key, u.object_key);
    auto data = nlohmann::json::parse(events[0].data);
    EXPECT_EQ(data["FileId"], s.file_id);
    EXPECT_TRUE(data["Audio"].is_null());
    EXPECT_EQ(data["AudioError"], u.audio_problem);
    EXPECT_EQ(wake_ups_, 1);
    EXPECT_EQ(service_->probe_stats().probes, 1u);
    EXPECT_EQ(service_->probe_stats().not_declared_audio, 1u);
}

TEST_F(HandOffTest, EnforceRefusesAndLeavesTheUploadOpenOnTheLocalStore) {
    use(ContentCheck::enforce);
    const std::string bytes = pattern_bytes(kChunk + 10, 3);
    auto s = start(bytes.size());
    const auto list = put_all(s, bytes);
    auto done = service_->complete(kAlice, request(s, list));
    expect_error(done, ErrorKind::unprocessable, "content_mismatch");
    EXPECT_NE(done.error().message.find("still open"), std::string::npos) << done.error().message;
    EXPECT_EQ(record(s.file_id).state, UploadState::open);
    auto parts = service_->list_parts(kAlice, s.file_id, s.upload_id);
    ASSERT_TRUE(parts.has_value());
    EXPECT_EQ(parts->parts.size(), 2u);
    EXPECT_TRUE(queued_events().empty());
    EXPECT_EQ(wake_ups_, 0);
}

TEST_F(HandOffTest, OffProbesNothing) {
    use(ContentCheck::off);
    auto s = uploaded(pattern_bytes(100, 1));
    EXPECT_EQ(record(s.file_id).audio_problem, "");
    EXPECT_EQ(service_->probe_stats().probes, 0u);
    auto data = nlohmann::json::parse(queued_events().at(0).data);
    EXPECT_FALSE(data.contains("Audio"));
}

TEST_F(HandOffTest, AbortDeleteAndExpiryWriteTheirEvents) {
    use(ContentCheck::off);
    auto aborted = start(10);
    ASSERT_TRUE(service_->abort(kAlice, aborted.file_id, aborted.upload_id).has_value());
    auto deleted = uploaded(pattern_bytes(10, 2));
    ASSERT_TRUE(service_->delete_file(kAlice, deleted.file_id).has_value());
    auto dropped = start(10);
    ASSERT_TRUE(service_->delete_file(kAlice, dropped.file_id).has_value());
    auto expired = start(10);
    clock_.advance(kTtl + std::chrono::seconds(1));
    ASSERT_EQ(service_->sweep_expired(10).value(), 1u);

    std::multiset<std::string> got;
    for (const auto& e : queued_events()) {
        got.insert(e.type + " " + nlohmann::json::parse(e.data)["FileId"].get<std::string>());
    }
    EXPECT_EQ(got, (std::multiset<std::string>{
                       "upload.aborted " + aborted.file_id, "file.uploaded " + deleted.file_id,
                       "file.deleted " + deleted.file_id, "upload.aborted " + dropped.file_id,
                       "upload.expired " + expired.file_id}));
}

TEST_F(UploadServiceTest, CheckReadyIsOkWhenBothStoresAnswer) {
    auto ready = service_->check_ready();
    EXPECT_TRUE(ready.has_value()) << ready.error().code << ": " << ready.error().message;
}

}  // namespace
}  // namespace audiodrop::upload
