#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "storage/embedded_bucket.hpp"
#include "storage/local_layout.hpp"
#include "storage/posix_file.hpp"

namespace audiodrop::storage {

// Reads an object as the concatenation of its manifest's part files. Every part file
// is opened up front, so a concurrent remove() or replacing complete() cannot change
// the bytes under a reader (POSIX keeps unlinked open files readable).
class LocalObjectReader final : public ObjectReader {
  public:
    // not_found when a part file is missing (the object went away as we opened it);
    // internal when a part file's size disagrees with the manifest.
    static core::Result<std::unique_ptr<LocalObjectReader>> open(
        const std::filesystem::path& object_dir, const Manifest& manifest);

    std::uint64_t size() const override { return size_; }
    const std::string& md5() const override { return md5_; }
    core::TimePoint last_modified() const override { return last_modified_; }
    core::Result<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) override;

  private:
    struct Segment {
        File file;
        std::uint64_t start = 0;  // offset of the part's first byte in the object
        std::uint64_t size = 0;
    };

    LocalObjectReader(std::vector<Segment> segments, std::uint64_t size, std::string md5,
                      core::TimePoint last_modified);

    std::vector<Segment> segments_;
    std::uint64_t size_;
    std::string md5_;
    core::TimePoint last_modified_;
};

}  // namespace audiodrop::storage
