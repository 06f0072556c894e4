#pragma once

// A small S3 REST client for the remote-S3 object store: requests signed with SigV4
// headers, sent over libcurl with kept-alive connections, retried with backoff when S3
// is unreachable, failing (5xx) or throttling; and presigned URLs, computed locally.

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

    // GETs the object `key` into `sink`. A transfer that breaks is resumed with a Range
    // from the first byte not yet delivered, pinned by If-Match to the object first seen,
    // so the sink sees each byte once. Statuses other than 200/206 come back as a
    // response with the error body, having delivered nothing.
    core::Result<S3Response> get(const std::string& key, const BodySink& sink);

    // A query-presigned URL for `method` on `key` (host the only signed header);
    // invalid_input unless ttl is within S3's 1 second to 7 days.
    core::Result<std::string> presign(std::string_view method, const std::string& key,
                                      QueryParams query, std::chrono::seconds ttl) const;

    const BucketAddress& address() const { return options_.address; }

  private:
    // One HTTP exchange on a pooled handle. `sink_status` is the status whose body goes
    // to the sink (200, or 206 when resuming); error documents are kept in the response.
    struct Exchange;
    Exchange perform(const S3Request& request, const BodySink* sink, long sink_status);
    core::Error unreachable(int curl_code) const;
    void back_off(unsigned attempt) const;
    std::string host_endpoint() const;  // endpoint with the bucket in the host when virtual
    std::string object_path(const std::string& key) const;

    void* acquire_handle();
    void release_handle(void* handle);

    S3ClientOptions options_;
    const core::Clock& clock_;
    std::mutex pool_mutex_;
    std::vector<void*> idle_handles_;
};

}  // namespace audiodrop::s3
