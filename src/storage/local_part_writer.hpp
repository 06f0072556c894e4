#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>

#include "core/hashing.hpp"
#include "storage/embedded_bucket.hpp"
#include "storage/keyed_mutex.hpp"
#include "storage/posix_file.hpp"

namespace audiodrop::storage {

struct PartDestination {
    std::filesystem::path upload_dir;
    std::string upload_id;
    std::uint32_t part_number = 0;
    std::uint64_t content_length = 0;
};

// Streams one part into a temp file under tmp/, hashing as it goes. commit() checks
// the length and Content-MD5, fsyncs, then, holding the upload's lock, renames the
// file into the upload directory and removes that part number's older files; it
// returns only after the directory is fsynced, so an acknowledged part survives kill -9.
// `upload_locks` is the store's and must outlive the writer.
class LocalPartWriter final : public PartWriter {
  public:
    LocalPartWriter(File temp, PartDestination destination, KeyedMutex& upload_locks);
    ~LocalPartWriter() override;

    core::Result<void> write(std::span<const std::uint8_t> bytes) override;
    core::Result<PartInfo> commit(const std::optional<core::Md5Digest>& content_md5) override;

  private:
    core::Result<void> move_into_upload(const std::string& file_name);

    File temp_;
    std::filesystem::path temp_path_;
    PartDestination destination_;
    KeyedMutex& upload_locks_;
    core::Md5 md5_;
    std::uint64_t written_ = 0;
    std::optional<core::Error> failed_;  // a write failed: the part can never commit
    bool finished_ = false;              // committed, or refused at commit
};

}  // namespace audiodrop::storage
