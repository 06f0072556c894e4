#include "storage/s3_object_store.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/hashing.hpp"
#include "s3/s3_xml.hpp"
#include "storage/content_type.hpp"
#include "storage/etag.hpp"
#include "storage/s3_object_reader.hpp"

namespace audiodrop::storage {
namespace {

using core::ErrorKind;
using core::make_error;

// S3 allows at most 1,000 parts per ListParts page and 10,000 parts per upload.
constexpr std::uint32_t kMaxListPages = 11;

// What an S3 refusal means to the service. `action` and `resource` name what was tried,
// for the operator reading the message.
core::Error store_error(const s3::S3Response& r, std::string_view action,
                        const std::string& resource) {
    const auto body = s3::parse_error_body(r.body);
    // HEAD answers carry no body: the status alone says what happened.
    const std::string code = body              ? body->code
                             : r.status == 404 ? "NoSuchKey"
                                               : "HTTP " + std::to_string(r.status);
    const std::string detail = body && !body->message.empty() ? ": " + body->message : "";
    if (code == "NoSuchUpload" || code == "NoSuchKey") {
        return make_error(ErrorKind::not_found, code, "the object store has no " + resource);
    }
    if (code == "InvalidPart" || code == "InvalidPartOrder" || code == "EntityTooSmall") {
        return make_error(ErrorKind::invalid_input, code,
                          "the object store refused to " + std::string(action) + " " + resource +
                              " (" + code + detail + ")");
    }
    if (code == "QuotaExceeded") {
        return make_error(ErrorKind::storage_full, "storage_full",
                          "the object store's quota is exhausted" + detail);
    }
    std::string message = "the object store failed to " + std::string(action) + " " + resource +
                          " (" + code + detail + ")";
    if (r.status == 403) message += "; check the S3 access key and secret key";
    if (code == "NoSuchBucket") message += "; create the bucket or fix the bucket name";
    return make_error(ErrorKind::unavailable, "storage_unavailable", message);
}

std::string upload_name(const std::string& key, const std::string& upload_id) {
    return "multipart upload " + upload_id + " of " + key;
}

bool parse_size(std::string_view text, std::uint64_t& out) {
    const auto* end = text.data() + text.size();
    auto [ptr, ec] = std::from_chars(text.data(), end, out);
    return ec == std::errc() && ptr == end;
}

}  // namespace

core::Result<std::unique_ptr<S3ObjectStore>> S3ObjectStore::open(s3::S3ClientOptions options,
                                                                 const core::Clock& clock) {
    const std::string bucket = options.address.bucket;
    auto store = std::make_unique<S3ObjectStore>(std::move(options), clock);
    AUDIODROP_TRY_ASSIGN(auto head, store->client_.send(s3::S3Request{"HEAD", "", {}, {}, {}}));
    if (head.status == 404) {
        return make_error(
            ErrorKind::unavailable, "storage_unavailable",
            "the bucket '" + bucket + "' does not exist at " + store->client_.address().endpoint);
    }
    if (head.status != 200) return store_error(head, "open", "bucket '" + bucket + "'");
    return store;
}

S3ObjectStore::S3ObjectStore(s3::S3ClientOptions options, const core::Clock& clock)
    : client_(std::move(options), clock) {}

core::Result<std::string> S3ObjectStore::create_multipart(const std::string& key,
                                                          std::uint64_t /*max_part_size*/) {
    // The object keeps this type: S3 serves every download with it.
    AUDIODROP_TRY_ASSIGN(
        auto r, client_.send(s3::S3Request{"POST",
                                           key,
                                           {{"uploads", ""}},
                                           {{"content-type", std::string(content_type_for(key))}},
                                           {}}));
    if (r.status != 200) return store_error(r, "start a multipart upload of", key);
    return s3::parse_upload_id(r.body);
}

core::Result<std::vector<std::string>> S3ObjectStore::presign_parts(const std::string& key,
                                                                    const std::string& upload_id,
                                                                    std::uint32_t part_count,
                                                                    std::chrono::seconds ttl) {
    return client_.presign_parts(key, upload_id, part_count, ttl);
}

core::Result<std::vector<PartInfo>> S3ObjectStore::list_parts(const std::string& key,
                                                              const std::string& upload_id) {
    std::vector<PartInfo> parts;
    std::uint32_t marker = 0;
    for (std::uint32_t page = 0; page < kMaxListPages; ++page) {
        s3::QueryParams query = {{"uploadId", upload_id}};
        if (marker > 0) query.emplace_back("part-number-marker", std::to_string(marker));
        AUDIODROP_TRY_ASSIGN(auto r, client_.send(s3::S3Request{"GET", key, query, {}, {}}));
        if (r.status != 200)
            return store_error(r, "list the parts of", upload_name(key, upload_id));
        AUDIODROP_TRY_ASSIGN(auto listed, s3::parse_parts_page(r.body));
        for (auto& p : listed.parts) {
            parts.push_back(PartInfo{p.part_number, normalise_etag(p.etag), p.size});
        }
        if (!listed.truncated) return parts;
        if (listed.next_part_number_marker <= marker) break;  // a store that would loop
        marker = listed.next_part_number_marker;
    }
    return make_error(ErrorKind::unavailable, "storage_unavailable",
                      "the object store listed the parts of " + upload_name(key, upload_id) +
                          " in more pages than an upload can have");
}

core::Result<void> S3ObjectStore::assemble(const std::string& key, const std::string& upload_id,
                                           const std::vector<PartRef>& parts) {
    std::vector<s3::CompletedPart> named;
    named.reserve(parts.size());
    for (const auto& p : parts) named.push_back(s3::CompletedPart{p.part_number, p.etag});
    AUDIODROP_TRY_ASSIGN(auto r, client_.send(s3::S3Request{"POST",
                                                            key,
                                                            {{"uploadId", upload_id}},
                                                            {{"content-type", "application/xml"}},
                                                            s3::complete_multipart_body(named)}));
    if (r.status == 200) {
        // S3 may fail a complete after it has answered 200: the error is in the body.
        if (s3::parse_completed_etag(r.body)) return {};
        return store_error(r, "complete", upload_name(key, upload_id));
    }
    auto refused = store_error(r, "complete", upload_name(key, upload_id));
    if (refused.kind == ErrorKind::unavailable && upload_is_gone(key, upload_id)) {
        // Ceph RGW answers a complete of an upload it no longer has with 500 "multipart
        // completion already in progress", not NoSuchUpload: ask it plainly.
        refused = make_error(ErrorKind::not_found, "NoSuchUpload",
                             "the object store has no " + upload_name(key, upload_id));
    }
    if (refused.code != "NoSuchUpload") return refused;
    // Gone: either abandoned, or a concurrent complete (another replica) already made
    // the object. Only an object assembled from exactly these parts counts as done.
    auto object = client_.send(s3::S3Request{"HEAD", key, {}, {}, {}});
    if (object && object->status == 200 &&
        normalise_etag(object->header("etag").value_or("")) == multipart_etag(parts)) {
        return {};
    }
    return refused;
}

bool S3ObjectStore::upload_is_gone(const std::string& key, const std::string& upload_id) {
    auto r = client_.send(
        s3::S3Request{"GET", key, {{"uploadId", upload_id}, {"max-parts", "1"}}, {}, {}});
    return r && r->status == 404;
}

core::Result<ObjectInfo> S3ObjectStore::hash_object(const std::string& key) {
    core::Md5 md5;
    std::uint64_t size = 0;
    AUDIODROP_TRY_ASSIGN(auto r, client_.get(key, [&](std::string_view bytes) {
        md5.update(bytes);
        size += bytes.size();
    }));
    if (r.status != 200 && r.status != 206) return store_error(r, "read back", key);
    return ObjectInfo{size, core::to_hex(md5.digest())};
}

core::Result<ObjectInfo> S3ObjectStore::complete(const std::string& key,
                                                 const std::string& upload_id,
                                                 const std::vector<PartRef>& parts,
                                                 const std::optional<std::string>& expected_md5) {
    AUDIODROP_TRY(assemble(key, upload_id, parts));
    AUDIODROP_TRY_ASSIGN(auto object, hash_object(key));
    if (expected_md5 && *expected_md5 != object.md5) {
        // Left behind if this fails, the object goes when the service purges the
        // aborted upload (release_storage removes its key).
        (void)remove(key);
        return make_error(ErrorKind::invalid_input, "BadDigestUploadConsumed",
                          "the stored bytes have MD5 " + object.md5 + ", not " + *expected_md5,
                          core::Reason::upload_consumed);
    }
    return object;
}

core::Result<void> S3ObjectStore::abort(const std::string& key, const std::string& upload_id) {
    AUDIODROP_TRY_ASSIGN(
        auto r, client_.send(s3::S3Request{"DELETE", key, {{"uploadId", upload_id}}, {}, {}}));
    if (r.status == 204 || r.status == 200) return {};
    return store_error(r, "abort", upload_name(key, upload_id));
}

core::Result<std::string> S3ObjectStore::presign_get(const std::string& key,
                                                     std::chrono::seconds ttl) {
    return client_.presign("GET", key, {}, ttl);
}

core::Result<ObjectInfo> S3ObjectStore::stat(const std::string& key) {
    AUDIODROP_TRY_ASSIGN(auto r, client_.send(s3::S3Request{"HEAD", key, {}, {}, {}}));
    if (r.status != 200) return store_error(r, "look up", key);
    ObjectInfo info;
    if (!parse_size(r.header("content-length").value_or(""), info.size)) {
        return make_error(ErrorKind::unavailable, "storage_unavailable",
                          "the object store gave no size for " + key);
    }
    const std::string etag = normalise_etag(r.header("etag").value_or(""));
    if (etag.size() == 32 && etag.find('-') == std::string::npos) info.md5 = etag;
    return info;
}

core::Result<std::unique_ptr<ObjectReader>> S3ObjectStore::read_object(const std::string& key) {
    AUDIODROP_TRY_ASSIGN(auto reader, S3ObjectReader::open(client_, key));
    return std::unique_ptr<ObjectReader>(std::move(reader));
}

core::Result<void> S3ObjectStore::remove(const std::string& key) {
    AUDIODROP_TRY_ASSIGN(auto r, client_.send(s3::S3Request{"DELETE", key, {}, {}, {}}));
    if (r.status == 204 || r.status == 200 || r.status == 404) return {};
    return store_error(r, "delete", key);
}

}  // namespace audiodrop::storage
