#pragma once

#include <cstdint>
#include <filesystem>
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
class LocalPartWriter final : public PartWriter {
  public:
    LocalPartWriter(File temp, PartDestination destination, LocalObjectStore& store);
    ~LocalPartWriter() override;

    core::Result<void> write(std::span<const std::uint8_t> bytes) override;
    core::Result<PartInfo> commit(const std::optional<core::Md5Digest>& content_md5) override;

  private:
    File temp_;
    std::filesystem::path temp_path_;
    PartDestination destination_;
    LocalObjectStore& store_;
    core::Md5 md5_;
    std::uint64_t written_ = 0;
    std::optional<core::Error> failed_;  // a write failed: the part can never commit
    bool finished_ = false;              // committed, or refused at commit
};

}  // namespace audiodrop::storage
