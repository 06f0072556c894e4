#include "conformance/object_store_conformance.hpp"

#include <curl/curl.h>
#include <strings.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <ostream>
#include <span>
#include <tuple>

#include "conformance/temp_dir.hpp"
#include "core/clock.hpp"
#include "core/hashing.hpp"
#include "core/ids.hpp"
#include "core/worker_pool.hpp"
#include "s3/s3_client.hpp"
#include "s3/sigv4.hpp"
#include "storage/etag.hpp"
#include "storage/local_object_store.hpp"
#include "storage/s3_object_store.hpp"

namespace audiodrop::storage::conformance {
namespace {

using core::ErrorKind;

// S3: every part but the last is at least 5 MiB. It is also the part size uploads are
// started with, as the service starts them with its ChunkSize.
constexpr std::size_t kPartSize = 5 * 1024 * 1024;
// A last part: any size.
constexpr std::size_t kLastPartSize = 1024 * 1024 + 7;
// How long the URLs a backend's client uses stay valid.
constexpr std::chrono::seconds kClientUrlTtl{600};

std::string md5_hex(std::string_view bytes) { return core::to_hex(core::md5(bytes)); }

std::string random_part(std::size_t size) { return core::random_bytes(size); }

// Parts 1 and 2 of an upload that may complete on S3: a full part, then a last one.
std::vector<std::string> full_and_last_part() {
    return {random_part(kPartSize), random_part(kLastPartSize)};
}

template <class T>
::testing::AssertionResult fails_with(const core::Result<T>& result, ErrorKind kind) {
    if (result) return ::testing::AssertionFailure() << "it succeeded";
    const auto& e = result.error();
    if (e.kind == kind) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure()
           << "it failed with ErrorKind " << static_cast<int>(e.kind) << ", not "
           << static_cast<int>(kind) << " (" << e.code << ": " << e.message << ")";
}

// A listing in a form that compares, and prints, as one value.
using Listing = std::vector<std::tuple<std::uint32_t, std::string, std::uint64_t>>;

Listing listing(const std::vector<PartInfo>& parts) {
    Listing out;
    for (const auto& p : parts) out.emplace_back(p.part_number, p.etag, p.size);
    return out;
}

Listing::value_type listed_as(std::uint32_t part_number, std::string_view bytes) {
    return {part_number, md5_hex(bytes), bytes.size()};
}

// scheme://host[:port] of `url`.
std::string origin_of(const std::string& url) {
    const auto host = url.find("://");
    if (host == std::string::npos) return {};
    return url.substr(0, url.find_first_of("/?", host + 3));
}

// The decoded value of query parameter `name` in `url`; empty when absent.
std::string query_parameter(const std::string& url, std::string_view name) {
    const auto mark = url.find('?');
    s3::QueryParams params;
    if (mark == std::string::npos || !s3::parse_query(url.substr(mark + 1), params)) return {};
    auto found = std::find_if(params.begin(), params.end(),
                              [&](const auto& param) { return param.first == name; });
    return found == params.end() ? std::string() : found->second;
}

// --- a client of presigned URLs ---

// What a presigned URL answered.
struct HttpAnswer {
    long status = 0;
    std::string etag;  // the ETag header, as sent
    std::string body;
};

std::size_t read_request_body(char* out, std::size_t size, std::size_t count, void* source) {
    auto& rest = *static_cast<std::string_view*>(source);
    const std::size_t n = std::min(size * count, rest.size());
    std::memcpy(out, rest.data(), n);
    rest.remove_prefix(n);
    return n;
}

std::size_t keep_response_body(char* data, std::size_t size, std::size_t count, void* answer) {
    static_cast<HttpAnswer*>(answer)->body.append(data, size * count);
    return size * count;
}

std::size_t keep_etag_header(char* data, std::size_t size, std::size_t count, void* answer) {
    constexpr std::string_view kName = "etag:";
    std::string_view line(data, size * count);
    if (line.size() > kName.size() && ::strncasecmp(line.data(), kName.data(), kName.size()) == 0) {
        line.remove_prefix(kName.size());
        const auto first = line.find_first_not_of(" \t");
        const auto last = line.find_last_not_of(" \t\r\n");
        if (first != std::string_view::npos) {
            static_cast<HttpAnswer*>(answer)->etag = line.substr(first, last - first + 1);
        }
    }
    return size * count;
}

// One request as an app sends it to a presigned URL: the URL is the whole authority,
// `body` (for a PUT) goes as it is. Bounded, so a store that stops answering fails the
// test instead of hanging it. unavailable when no answer came.
core::Result<HttpAnswer> send_to_presigned(std::string_view method, const std::string& url,
                                           std::string_view body = {}) {
    std::unique_ptr<CURL, decltype(&curl_easy_cleanup)> curl(curl_easy_init(), curl_easy_cleanup);
    if (!curl) {
        return core::make_error(ErrorKind::internal, "curl", "curl_easy_init failed");
    }
    // No "Expect: 100-continue": the store answers a PUT only once its body is in.
    std::unique_ptr<curl_slist, decltype(&curl_slist_free_all)> headers(
        curl_slist_append(nullptr, "Expect:"), curl_slist_free_all);
    HttpAnswer answer;
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 120L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, keep_response_body);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &answer);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, keep_etag_header);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &answer);
    if (method == "PUT") {
        curl_easy_setopt(c, CURLOPT_UPLOAD, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_request_body);
        curl_easy_setopt(c, CURLOPT_READDATA, &body);
        curl_easy_setopt(c, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    if (const CURLcode code = curl_easy_perform(c); code != CURLE_OK) {
        return core::make_error(ErrorKind::unavailable, "curl",
                                std::string(method) + " " + url + ": " + curl_easy_strerror(code));
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &answer.status);
    return answer;
}

core::Error refused(std::string_view what, const HttpAnswer& answer) {
    return core::make_error(answer.status == 404 ? ErrorKind::not_found : ErrorKind::unavailable,
                            "HTTP " + std::to_string(answer.status),
                            std::string(what) + " was refused with HTTP " +
                                std::to_string(answer.status) + ": " + answer.body);
}

// --- backends ---

// LocalObjectStore on a fresh directory, advancing whole-file MD5s on a real hash pool
// as the server runs it. Its client side is what the embedded S3 endpoint does with a
// presigned PUT or GET once the signature checks out: the EmbeddedBucket calls.
class LocalBackend final : public Backend {
  public:
    static core::Result<std::unique_ptr<Backend>> open() {
        auto backend = std::make_unique<LocalBackend>();
        LocalObjectStore::Options options;
        options.root = backend->dir_.path() / "data";
        options.bucket = "audiodrop";
        options.credentials = {"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"};
        options.region = "us-east-1";
        options.public_url = kPublicUrl;
        AUDIODROP_TRY_ASSIGN(backend->store_,
                             LocalObjectStore::open(options, backend->clock_, &backend->pool_));
        return std::unique_ptr<Backend>(std::move(backend));
    }

    ~LocalBackend() override {
        // Background hashing refers to the store: it stops first.
        pool_.stop();
    }

    ObjectStore& store() override { return *store_; }

    core::Result<std::string> put_part(const std::string& key, const std::string& upload_id,
                                       std::uint32_t part_number, std::string_view bytes) override {
        AUDIODROP_TRY_ASSIGN(auto writer,
                             store_->begin_part(key, upload_id, part_number, bytes.size()));
        AUDIODROP_TRY(
            writer->write({reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()}));
        AUDIODROP_TRY_ASSIGN(const auto part, writer->commit(std::nullopt));
        return part.etag;
    }

    core::Result<std::string> get_object(const std::string& key) override {
        AUDIODROP_TRY_ASSIGN(auto reader, store_->open_object(key));
        std::string bytes(reader->size(), '\0');
        const std::span<std::uint8_t> out(reinterpret_cast<std::uint8_t*>(bytes.data()),
                                          bytes.size());
        for (std::size_t at = 0; at < out.size();) {
            AUDIODROP_TRY_ASSIGN(const std::size_t n, reader->read(at, out.subspan(at)));
            if (n == 0) {
                return core::make_error(ErrorKind::internal, "ShortRead",
                                        key + " ended at byte " + std::to_string(at));
            }
            at += n;
        }
        return bytes;
    }

    std::string public_endpoint() const override { return kPublicUrl; }
    bool reopens_after_digest_mismatch() const override { return true; }
    bool completes_a_subset_of_its_parts() const override { return true; }

  private:
    static constexpr const char* kPublicUrl = "http://127.0.0.1:8081";

    core::SystemClock clock_;
    test_support::TempDir dir_;
    core::WorkerPool pool_{core::WorkerPool::Options{"hash", 2, 1024, 0}};
    std::unique_ptr<LocalObjectStore> store_;
};

// S3ObjectStore on the bucket the AUDIODROP_TEST_S3_* variables name
// (tests/scaleout/ceph_rgw.py run sets them for a throwaway Ceph RGW). Its client side
// is plain HTTP to the presigned URLs, as an app sends it.
class S3Backend final : public Backend {
  public:
    // Empty when the variables are set; otherwise why S3 tests skip.
    static std::string skip_reason() {
        return options_from_environment()
                   ? ""
                   : "AUDIODROP_TEST_S3_ENDPOINT, _BUCKET, _ACCESS_KEY and _SECRET_KEY are not "
                     "set; run under tests/scaleout/ceph_rgw.py run -- ... "
                     "(CTest: object_store_conformance_s3)";
    }

    static core::Result<std::unique_ptr<Backend>> open() {
        auto options = options_from_environment();
        if (!options) return core::make_error(ErrorKind::unavailable, "no_s3", skip_reason());
        auto backend = std::make_unique<S3Backend>(options->address.endpoint);
        AUDIODROP_TRY_ASSIGN(backend->store_, S3ObjectStore::open(*options, backend->clock_));
        return std::unique_ptr<Backend>(std::move(backend));
    }

    explicit S3Backend(std::string endpoint) : endpoint_(std::move(endpoint)) {}

    ObjectStore& store() override { return *store_; }

    core::Result<std::string> put_part(const std::string& key, const std::string& upload_id,
                                       std::uint32_t part_number, std::string_view bytes) override {
        AUDIODROP_TRY_ASSIGN(const auto urls,
                             store_->presign_parts(key, upload_id, part_number, kClientUrlTtl));
        const auto& url = urls.back();
        AUDIODROP_TRY_ASSIGN(const auto answer, send_to_presigned("PUT", url, bytes));
        if (answer.status != 200)
            return refused("PUT of part " + std::to_string(part_number), answer);
        return normalise_etag(answer.etag);
    }

    core::Result<std::string> get_object(const std::string& key) override {
        AUDIODROP_TRY_ASSIGN(const auto url, store_->presign_get(key, kClientUrlTtl));
        AUDIODROP_TRY_ASSIGN(auto answer, send_to_presigned("GET", url));
        if (answer.status != 200) return refused("GET of " + key, answer);
        return std::move(answer.body);
    }

    std::string public_endpoint() const override { return endpoint_; }
    bool reopens_after_digest_mismatch() const override { return false; }
    // The suite's S3 is Ceph RGW ("total parts mismatch").
    bool completes_a_subset_of_its_parts() const override { return false; }

  private:
    static std::optional<std::string> variable(const char* name) {
        const char* value = std::getenv(name);
        if (value == nullptr || *value == '\0') return std::nullopt;
        return std::string(value);
    }

    static std::optional<s3::S3ClientOptions> options_from_environment() {
        auto endpoint = variable("AUDIODROP_TEST_S3_ENDPOINT");
        auto bucket = variable("AUDIODROP_TEST_S3_BUCKET");
        auto access_key = variable("AUDIODROP_TEST_S3_ACCESS_KEY");
        auto secret_key = variable("AUDIODROP_TEST_S3_SECRET_KEY");
        if (!endpoint || !bucket || !access_key || !secret_key) return std::nullopt;
        s3::S3ClientOptions options;
        // Path style: a store on loopback has no wildcard DNS for bucket hosts.
        options.address = s3::BucketAddress{
            *endpoint, *bucket, variable("AUDIODROP_TEST_S3_REGION").value_or("us-east-1"), true};
        options.credentials = {*access_key, *secret_key};
        // Several small ranges in flight: objects here are a few MiB, and reading them
        // back is to go through the parallel, reordering path.
        options.read_parallel = 3;
        options.read_range_bytes = 1024 * 1024;
        return options;
    }

    std::string endpoint_;
    core::SystemClock clock_;  // signs for a real server: real time
    std::unique_ptr<S3ObjectStore> store_;
};

}  // namespace

// --- the fixture ---

void ObjectStoreConformance::SetUp() {
    if (!GetParam().skip_reason.empty()) GTEST_SKIP() << GetParam().skip_reason;
    auto backend = GetParam().open();
    ASSERT_TRUE(backend) << backend.error().message;
    backend_ = std::move(*backend);
    key_prefix_ = core::new_id("conformance_") + "-";
}

void ObjectStoreConformance::TearDown() {
    if (!backend_) return;  // skipped, or the store did not open
    // Best effort: most of these uploads were completed or aborted by the test and most
    // keys removed or never made, so not_found is the usual answer.
    for (const auto& [key, upload_id] : uploads_) (void)store().abort(key, upload_id);
    for (const auto& key : keys_) (void)store().remove(key);
}

std::string ObjectStoreConformance::key(std::string_view name) {
    keys_.push_back(key_prefix_ + std::string(name));
    return keys_.back();
}

std::string ObjectStoreConformance::start_upload(const std::string& key) {
    auto id = store().create_multipart(key, kPartSize);
    if (!id) {
        ADD_FAILURE() << "create_multipart(" << key << "): " << id.error().message;
        return {};
    }
    uploads_.emplace_back(key, *id);
    return *id;
}

PartRef ObjectStoreConformance::put_part(const std::string& key, const std::string& upload_id,
                                         std::uint32_t part_number, std::string_view bytes) {
    auto etag = backend().put_part(key, upload_id, part_number, bytes);
    if (!etag) {
        ADD_FAILURE() << "part " << part_number << ": " << etag.error().message;
        return PartRef{part_number, {}};
    }
    return PartRef{part_number, *etag};
}

StagedUpload ObjectStoreConformance::stage(std::string_view name, std::vector<std::string> bodies) {
    StagedUpload upload;
    upload.key = key(name);
    upload.upload_id = start_upload(upload.key);
    for (std::uint32_t n = 1; n <= bodies.size(); ++n) {
        upload.parts.push_back(put_part(upload.key, upload.upload_id, n, bodies[n - 1]));
        upload.bytes += bodies[n - 1];
    }
    upload.bodies = std::move(bodies);
    return upload;
}

void ObjectStoreConformance::expect_completes(const StagedUpload& upload) {
    auto completed = store().complete(upload.key, upload.upload_id, upload.parts, std::nullopt);
    ASSERT_TRUE(completed) << completed.error().message;
    EXPECT_EQ(completed->size, upload.bytes.size());
    EXPECT_EQ(completed->md5, md5_hex(upload.bytes));
}

void ObjectStoreConformance::expect_reads_back(const std::string& key, const std::string& bytes) {
    auto read = backend().get_object(key);
    ASSERT_TRUE(read) << read.error().message;
    // Not EXPECT_EQ: a failure would print megabytes.
    EXPECT_TRUE(*read == bytes) << "read back " << read->size() << " bytes with MD5 "
                                << md5_hex(*read) << ", not " << bytes.size() << " with MD5 "
                                << md5_hex(bytes);
}

namespace {

// --- complete ---

TEST_P(ObjectStoreConformance, ThreePartsCompleteToTheirConcatenation) {
    const auto upload = stage("three-parts.mp3", {random_part(kPartSize), random_part(kPartSize),
                                                  random_part(kLastPartSize)});
    expect_completes(upload);

    auto stat = store().stat(upload.key);
    ASSERT_TRUE(stat) << stat.error().message;
    EXPECT_EQ(stat->size, upload.bytes.size());
    expect_reads_back(upload.key, upload.bytes);
}

TEST_P(ObjectStoreConformance, CompletingASubsetOfPartsHashesExactlyThoseParts) {
    const auto upload = stage("subset.mp3", {random_part(kPartSize), random_part(kLastPartSize),
                                             random_part(kLastPartSize + 1)});
    // S3 CompleteMultipartUpload: stored parts the list leaves out are discarded.
    const std::string chosen = upload.bodies[0] + upload.bodies[2];

    auto completed = store().complete(upload.key, upload.upload_id,
                                      {upload.parts[0], upload.parts[2]}, std::nullopt);
    if (!backend().completes_a_subset_of_its_parts()) {
        ASSERT_FALSE(completed);
        EXPECT_EQ(completed.error().kind, core::ErrorKind::invalid_input);
        return;
    }
    ASSERT_TRUE(completed) << completed.error().message;
    EXPECT_EQ(completed->size, chosen.size());
    EXPECT_EQ(completed->md5, md5_hex(chosen));
    expect_reads_back(upload.key, chosen);
}

TEST_P(ObjectStoreConformance, CompletingAgainWithTheSamePartsReturnsTheSameObject) {
    const auto upload = stage("twice-completed.mp3", full_and_last_part());
    auto first = store().complete(upload.key, upload.upload_id, upload.parts, std::nullopt);
    ASSERT_TRUE(first) << first.error().message;

    auto second = store().complete(upload.key, upload.upload_id, upload.parts, std::nullopt);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_EQ(second->size, first->size);
    EXPECT_EQ(second->md5, first->md5);
}

TEST_P(ObjectStoreConformance, CompleteWithTheRightExpectedMd5Succeeds) {
    const auto upload = stage("right-md5.mp3", full_and_last_part());
    auto completed =
        store().complete(upload.key, upload.upload_id, upload.parts, md5_hex(upload.bytes));
    ASSERT_TRUE(completed) << completed.error().message;
    EXPECT_EQ(completed->md5, md5_hex(upload.bytes));
}

TEST_P(ObjectStoreConformance, CompleteWithAWrongExpectedMd5FailsAsTheStoreDocuments) {
    const auto upload = stage("wrong-md5.mp3", full_and_last_part());
    auto refused =
        store().complete(upload.key, upload.upload_id, upload.parts, md5_hex("other bytes"));
    ASSERT_FALSE(refused);
    EXPECT_EQ(refused.error().kind, ErrorKind::invalid_input);
    // Either way no object is left under the key.
    EXPECT_TRUE(fails_with(store().stat(upload.key), ErrorKind::not_found));

    if (backend().reopens_after_digest_mismatch()) {
        EXPECT_EQ(refused.error().reason, core::Reason::digest_mismatch);
        expect_completes(upload);
    } else {
        EXPECT_EQ(refused.error().reason, core::Reason::upload_consumed);
        EXPECT_TRUE(
            fails_with(store().list_parts(upload.key, upload.upload_id), ErrorKind::not_found));
        EXPECT_TRUE(fails_with(
            store().complete(upload.key, upload.upload_id, upload.parts, md5_hex(upload.bytes)),
            ErrorKind::not_found));
    }
}

TEST_P(ObjectStoreConformance, CompleteNamingAPartNeverUploadedIsInvalidAndLeavesTheUploadOpen) {
    const auto upload = stage("missing-part.mp3", full_and_last_part());
    // Named last, so that S3's minimum size does not apply to the full part before it.
    const std::vector<PartRef> with_missing = {upload.parts[0], PartRef{3, md5_hex("never sent")}};
    EXPECT_TRUE(
        fails_with(store().complete(upload.key, upload.upload_id, with_missing, std::nullopt),
                   ErrorKind::invalid_input));
    expect_completes(upload);
}

TEST_P(ObjectStoreConformance, CompleteWithAWrongEtagIsInvalidAndLeavesTheUploadOpen) {
    const auto upload = stage("wrong-etag.mp3", full_and_last_part());
    const std::vector<PartRef> with_wrong = {upload.parts[0], PartRef{2, md5_hex("other bytes")}};
    EXPECT_TRUE(fails_with(store().complete(upload.key, upload.upload_id, with_wrong, std::nullopt),
                           ErrorKind::invalid_input));
    expect_completes(upload);
}

// --- list_parts ---

TEST_P(ObjectStoreConformance, ListedPartsAreAscendingWithTheirMd5AndSize) {
    const auto k = key("listed.mp3");
    const auto id = start_upload(k);
    auto fresh = store().list_parts(k, id);
    ASSERT_TRUE(fresh) << fresh.error().message;
    EXPECT_EQ(listing(*fresh), Listing{});

    const std::string one = random_part(1000);
    const std::string two = random_part(2000);
    EXPECT_EQ(put_part(k, id, 2, two).etag, md5_hex(two));
    EXPECT_EQ(put_part(k, id, 1, one).etag, md5_hex(one));
    auto listed = store().list_parts(k, id);
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(listing(*listed), (Listing{listed_as(1, one), listed_as(2, two)}));
}

TEST_P(ObjectStoreConformance, APartStoredAgainReplacesTheEarlierOne) {
    const auto upload = stage("restored.mp3", {random_part(1000), random_part(2000)});
    const std::string again = random_part(3000);
    put_part(upload.key, upload.upload_id, 1, again);

    auto listed = store().list_parts(upload.key, upload.upload_id);
    ASSERT_TRUE(listed) << listed.error().message;
    EXPECT_EQ(listing(*listed), (Listing{listed_as(1, again), listed_as(2, upload.bodies[1])}));
}

// --- abort ---

TEST_P(ObjectStoreConformance, AbortedUploadIsNotFound) {
    const auto upload = stage("aborted.mp3", {random_part(1000)});
    ASSERT_TRUE(store().abort(upload.key, upload.upload_id));

    EXPECT_TRUE(fails_with(store().list_parts(upload.key, upload.upload_id), ErrorKind::not_found));
    EXPECT_TRUE(
        fails_with(store().complete(upload.key, upload.upload_id, upload.parts, std::nullopt),
                   ErrorKind::not_found));
}

TEST_P(ObjectStoreConformance, SecondAbortIsNotFoundAndChangesNothing) {
    const auto upload = stage("twice-aborted.mp3", {random_part(1000)});
    // Another upload of the same key, which neither abort may touch.
    const auto other_id = start_upload(upload.key);
    const std::string other_part = random_part(2000);
    put_part(upload.key, other_id, 1, other_part);
    ASSERT_TRUE(store().abort(upload.key, upload.upload_id));

    EXPECT_TRUE(fails_with(store().abort(upload.key, upload.upload_id), ErrorKind::not_found));
    EXPECT_TRUE(fails_with(store().list_parts(upload.key, upload.upload_id), ErrorKind::not_found));
    auto other = store().list_parts(upload.key, other_id);
    ASSERT_TRUE(other) << other.error().message;
    EXPECT_EQ(listing(*other), Listing{listed_as(1, other_part)});
}

// --- objects ---

TEST_P(ObjectStoreConformance, RemovedObjectIsNotFound) {
    const auto upload = stage("removed.mp3", {random_part(1000)});
    ASSERT_TRUE(store().complete(upload.key, upload.upload_id, upload.parts, std::nullopt));
    ASSERT_TRUE(store().stat(upload.key));

    auto removed = store().remove(upload.key);
    ASSERT_TRUE(removed) << removed.error().message;
    EXPECT_TRUE(fails_with(store().stat(upload.key), ErrorKind::not_found));
}

TEST_P(ObjectStoreConformance, RemovingAnAbsentKeySucceeds) {
    auto removed = store().remove(key("never-made.mp3"));
    EXPECT_TRUE(removed) << removed.error().message;
}

TEST_P(ObjectStoreConformance, StatOfAnAbsentKeyIsNotFound) {
    EXPECT_TRUE(fails_with(store().stat(key("never-made.mp3")), ErrorKind::not_found));
}

// --- presigned URLs ---

TEST_P(ObjectStoreConformance, PresignedUrlsPointAtThePublicEndpointAndCarryTheirLifetime) {
    constexpr std::chrono::seconds kTtl{900};
    const auto k = key("presigned.mp3");
    const auto id = start_upload(k);
    // Computed locally: neither key has an object, nor the upload a part, for a store to
    // look up.
    auto parts = store().presign_parts(k, id, 7, kTtl);
    ASSERT_TRUE(parts) << parts.error().message;
    ASSERT_EQ(parts->size(), 7u);
    for (const auto& url : {core::Result<std::string>(parts->back()),
                            store().presign_get(key("never-made.mp3"), kTtl)}) {
        ASSERT_TRUE(url) << url.error().message;
        EXPECT_EQ(origin_of(*url), backend().public_endpoint()) << *url;
        EXPECT_EQ(query_parameter(*url, "X-Amz-Expires"), std::to_string(kTtl.count())) << *url;
        // Lowercase hex SHA-256.
        EXPECT_EQ(query_parameter(*url, "X-Amz-Signature").size(), 64u) << *url;
    }
}

}  // namespace

void PrintTo(const BackendFactory& factory, std::ostream* os) { *os << factory.name; }

std::vector<BackendFactory> backends() {
    return {{"local", &LocalBackend::open, ""}, {"s3", &S3Backend::open, S3Backend::skip_reason()}};
}

INSTANTIATE_TEST_SUITE_P(Backends, ObjectStoreConformance, ::testing::ValuesIn(backends()),
                         [](const ::testing::TestParamInfo<BackendFactory>& info) {
                             return info.param.name;
                         });

}  // namespace audiodrop::storage::conformance
