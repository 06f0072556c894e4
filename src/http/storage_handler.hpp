#pragma once

#include <string>

#include "core/clock.hpp"
#include "core/worker_pool.hpp"
#include "http/http_server.hpp"
#include "http/metrics.hpp"
#include "s3/sigv4.hpp"
#include "storage/embedded_bucket.hpp"

namespace audiodrop::http {

// The embedded storage endpoint: path-style S3 (/<bucket>/<key>) serving only
// query-presigned requests — UploadPart (PUT ?partNumber=&uploadId=) and GET/HEAD of
// completed objects with Range — and answering errors as S3 XML, so any S3 SDK that
// presigns with the same keys works against it.
class StorageHandler final : public Handler {
  public:
    // Every disk step (opening, writing and committing a part, reading an object) runs
    // on `disk`; the network threads only move bytes.
    StorageHandler(storage::EmbeddedBucket& bucket, s3::Credentials credentials, std::string region,
                   const core::Clock& clock, Metrics& metrics, core::WorkerPool& disk);

    asio::awaitable<void> handle(Exchange& ex) override;
    StringResponse framing_error(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& request_id) override;

  private:
    asio::awaitable<void> upload_part(Exchange& ex, const std::string& key,
                                      const s3::QueryParams& query);
    // Streams the body into `writer` and commits it: the stored part, or why not.
    asio::awaitable<core::Result<storage::PartInfo>> receive_part(
        Exchange& ex, storage::PartWriter& writer,
        const std::optional<core::Md5Digest>& content_md5);
    asio::awaitable<void> get_object(Exchange& ex, const std::string& key);
    asio::awaitable<void> fail(Exchange& ex, const core::Error& error);

    storage::EmbeddedBucket& bucket_;
    s3::Credentials credentials_;
    std::string region_;
    const core::Clock& clock_;
    Metrics& metrics_;
    core::WorkerPool& disk_;
};

}  // namespace audiodrop::http
