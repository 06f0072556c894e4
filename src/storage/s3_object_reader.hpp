#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "s3/s3_client.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::storage {

// Reads an S3 object by ranged GETs, a block at a time, so a reader that looks at a few
// places of a large object (a probe of its header and index) fetches only those.
// Each GET is pinned by If-Match to the ETag the object had when opened: an object
// replaced meanwhile fails the read instead of mixing two versions.
class S3ObjectReader final : public ObjectReader {
  public:
    static constexpr std::size_t kDefaultBlockBytes = 256 * 1024;

    // HEADs `key` for its size and ETag; not_found "NoSuchKey".
    static core::Result<std::unique_ptr<S3ObjectReader>> open(
        s3::S3Client& client, const std::string& key, std::size_t block_bytes = kDefaultBlockBytes);

    std::uint64_t size() const override { return size_; }
    const std::string& md5() const override { return md5_; }
    core::TimePoint last_modified() const override { return {}; }
    core::Result<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override;

  private:
    S3ObjectReader(s3::S3Client& client, std::string key, std::uint64_t size, std::string etag,
                   std::size_t block_bytes);
    core::Result<void> fetch_block(std::uint64_t start);

    s3::S3Client& client_;
    std::string key_;
    std::uint64_t size_;
    std::string etag_;  // as S3 sent it, quotes included
    std::string md5_;   // empty for a multipart object, whose ETag is not an MD5
    std::size_t block_bytes_;
    std::uint64_t block_start_ = 0;
    std::string block_;  // the bytes at block_start_
};

}  // namespace audiodrop::storage
