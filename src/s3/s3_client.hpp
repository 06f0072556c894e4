#pragma once

// A small S3 REST client for the remote-S3 object store: requests signed with SigV4
// headers, sent over libcurl with kept-alive connections, retried with backoff when S3
// is unreachable, failing (5xx) or throttling; and presigned URLs, computed locally.
// Every request made for an HTTP request of ours carries its id as X-Request-Id
// (core/request_context.hpp), unsigned.

#include <chrono>
#include <cstdint>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::s3 {

// Where a bucket is and how it is addressed.
struct BucketAddress {
    std::string endpoint;  // scheme://host[:port], no trailing slash
    std::string bucket;
    std::string region = "us-east-1";
    // https://endpoint/bucket/key rather than https://bucket.endpoint/key; what most
    // self-hosted stores (Ceph RGW, MinIO) need unless given wildcard DNS.
    bool path_style = false;
};

struct S3ClientOptions {
    BucketAddress address;
    Credentials credentials;
    std::chrono::milliseconds connect_timeout{3000};
    // An attempt is cut off when it receives nothing (an object read: under 1 KiB/s)
    // for this long.
    std::chrono::seconds stall_timeout{20};
    unsigned max_attempts = 4;
    std::chrono::milliseconds first_backoff{100};
    // get(): ranged GETs in flight at once, and the bytes each asks for.
    unsigned read_parallel = 1;
    std::uint64_t read_range_bytes = 8 * 1024 * 1024;
};

struct S3Request {
    std::string method;
    std::string key;     // decoded; empty addresses the bucket itself
    QueryParams query;   // decoded; "uploads" with an empty value for "?uploads"
    HeaderList headers;  // sent and signed
    std::string body;    // small bodies only (XML documents)
};

struct S3Response {
    long status = 0;
    HeaderList headers;  // names lowercase, values trimmed
    std::string body;    // empty when the body went to a sink
    std::optional<std::string> header(std::string_view lowercase_name) const;
};

// Receives a GET body piece by piece as it arrives.
using BodySink = std::function<void(std::string_view)>;

class S3Client {
  public:
    S3Client(S3ClientOptions options, const core::Clock& clock);
    ~S3Client();
    S3Client(const S3Client&) = delete;
    S3Client& operator=(const S3Client&) = delete;

    // Signs and sends `request`. Network failures, 5xx and 429 are retried (with
    // exponential backoff and jitter, at most max_attempts times); whatever S3 answers
    // last comes back as a response. ErrorKind::unavailable when it never answered.
    core::Result<S3Response> send(const S3Request& request);

    // Reads the whole object `key` into `sink`, in order. A HEAD finds its size and
    // ETag; then the object is read in one GET, or, with read_parallel > 1, in ranged
    // GETs of read_range_bytes, read_parallel in flight at once, driven by this one
    // thread, so a large object arrives at the speed of several connections where one is
    // slow (AWS S3: ~100 MB/s each). Each is pinned by If-Match to that ETag. The range
    // due next streams straight to the sink; the others wait in memory (at most
    // read_parallel - 1 ranges). A range
    // that breaks resumes from its first byte not yet received, so the sink sees each
    // byte once; network failures, 5xx and 429 are retried up to max_attempts times per
    // range. The HEAD's answer comes back; when it is not 200, nothing was delivered.
    // unavailable when a range cannot be read (the object changed: 412, or retries ran
    // out).
    core::Result<S3Response> get(const std::string& key, const BodySink& sink);

    // A query-presigned URL for `method` on `key` (host the only signed header);
    // invalid_input unless ttl is within S3's 1 second to 7 days.
    core::Result<std::string> presign(std::string_view method, const std::string& key,
                                      QueryParams query, std::chrono::seconds ttl) const;
    // The UploadPart URLs of parts 1..part_count (see presign_upload_parts).
    core::Result<std::vector<std::string>> presign_parts(const std::string& key,
                                                         const std::string& upload_id,
                                                         std::uint32_t part_count,
                                                         std::chrono::seconds ttl) const;

    const BucketAddress& address() const { return options_.address; }

  private:
    // One HTTP exchange on a pooled handle.
    struct Exchange;
    Exchange perform(const S3Request& request);
    // Sets `curl` up to send `request`, signed; returns the header list to free after.
    void* configure(void* curl, const S3Request& request) const;
    struct RangeRead;
    core::Error range_failed(const std::string& key, const RangeRead& range) const;
    core::Error unreachable(int curl_code) const;
    void back_off(unsigned attempt) const;
    std::string host_endpoint() const;  // endpoint with the bucket in the host when virtual
    core::Result<PresignInput> presign_input(std::string_view method, const std::string& key,
                                             std::chrono::seconds ttl) const;
    std::string object_path(const std::string& key) const;

    void* acquire_handle();
    void release_handle(void* handle);

    S3ClientOptions options_;
    const core::Clock& clock_;
    std::mutex pool_mutex_;
    std::vector<void*> idle_handles_;
};

}  // namespace audiodrop::s3
