#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "core/hashing.hpp"
#include "storage/embedded_bucket.hpp"
#include "storage/posix_file.hpp"

namespace audiodrop::storage {

class LocalObjectStore;

struct PartDestination {
    std::string key;
    std::string upload_id;
    std::uint32_t part_number = 0;
    std::uint64_t content_length = 0;
};

// Streams one part into a temp file under tmp/, hashing as it goes. commit() checks
// the length and Content-MD5, fsyncs, then has the store install the file into the
// upload (LocalObjectStore::install_part); it returns only once the part is durable,
// so an acknowledged part survives kill -9. The store must outlive the writer.
//
// The socket's bytes land in the writer's own buffer and go on into the page cache,
// where the background MD5 (Md5Frontiers) reads them back while they are still there.
// The buffer is touched only as far as bytes arrive, so a slow client costs a few pages.
class LocalPartWriter final : public PartWriter {
  public:
    LocalPartWriter(File temp, PartDestination destination, LocalObjectStore& store);
    ~LocalPartWriter() override;

    std::span<std::uint8_t> receive_buffer() override;
    core::Result<void> received(std::size_t n) override;
    core::Result<PartInfo> commit(const std::optional<core::Md5Digest>& content_md5) override;

  private:
    File temp_;
    std::filesystem::path temp_path_;
    PartDestination destination_;
    LocalObjectStore& store_;
    std::unique_ptr<std::uint8_t[]> buffer_;
    core::Md5 md5_;
    std::uint64_t written_ = 0;
    std::optional<core::Error> failed_;  // a write failed: the part can never commit
    bool finished_ = false;              // committed, or refused at commit
};

}  // namespace audiodrop::storage
