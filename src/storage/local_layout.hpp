#pragma once

// Names, paths and on-disk records of the local object store; the layout itself is
// described in local_object_store.hpp. Nothing here touches a file except
// scan_parts, which only lists and stats.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::storage {

inline constexpr std::size_t kMaxKeyLength = 200;
inline constexpr std::uint32_t kMaxPartNumber = 10000;  // S3: part numbers 1..10,000
inline constexpr std::string_view kUploadIdPrefix = "mpu_";
inline constexpr std::string_view kUploadRecordName = "upload.json";
inline constexpr std::string_view kManifestName = "manifest.json";

// Keys become one directory name, so only [A-Za-z0-9._-], no leading '.', 1..200 long:
// no '/', no "..", nothing a shell or another filesystem would read differently.
bool is_valid_key(std::string_view key);
// Only ids this store minted, checked before an id is ever joined into a path.
bool is_valid_upload_id(std::string_view upload_id);
bool is_valid_part_number(std::uint32_t part_number);
// True for 32 lowercase hex digits, the ETag form parts are named with.
bool is_md5_hex(std::string_view s);

class LocalLayout {
  public:
    explicit LocalLayout(std::filesystem::path root) : root_(std::move(root)) {}
    const std::filesystem::path& root() const { return root_; }
    std::filesystem::path tmp() const { return root_ / "tmp"; }
    std::filesystem::path uploads() const { return root_ / "uploads"; }
    std::filesystem::path objects() const { return root_ / "objects"; }
    std::filesystem::path ended() const { return root_ / "ended"; }
    std::filesystem::path lock_file() const { return root_ / "LOCK"; }
    // Callers validate ids and keys first: these only join.
    std::filesystem::path upload_dir(std::string_view upload_id) const {
        return uploads() / upload_id;
    }
    std::filesystem::path object_dir(std::string_view key) const { return objects() / key; }
    std::filesystem::path ended_mark(std::string_view upload_id) const {
        return ended() / upload_id;
    }
    // A fresh unique name under tmp/.
    std::filesystem::path new_temp_path() const;

  private:
    std::filesystem::path root_;
};

// "00042.<etag>": the part number zero-padded so names sort by number, and the ETag in
// the name so that the name and the bytes it promises appear together on rename.
std::string part_file_name(std::uint32_t part_number, std::string_view etag);
struct PartFileName {
    std::uint32_t part_number = 0;
    std::string etag;
};
std::optional<PartFileName> parse_part_file_name(std::string_view name);

// upload.json: what create_multipart was asked for.
struct UploadRecord {
    std::string key;
    std::uint64_t max_part_size = 0;
    std::int64_t created = 0;  // unix seconds
};
std::string encode(const UploadRecord& record);
core::Result<UploadRecord> decode_upload_record(std::string_view text);

// manifest.json: a completed object is its manifest's parts, in order.
struct ManifestPart {
    std::uint32_t part_number = 0;
    std::string file;
    std::uint64_t size = 0;
    std::string etag;
};
struct Manifest {
    std::string key;
    std::string upload_id;
    std::uint64_t size = 0;
    std::string md5;
    std::vector<ManifestPart> parts;
    std::int64_t completed_at = 0;  // unix seconds
};
std::string encode(const Manifest& manifest);
core::Result<Manifest> decode_manifest(std::string_view text);
// Same part numbers and ETags in the same order.
bool same_parts(const Manifest& manifest, const std::vector<PartRef>& parts);

// A part file found in an upload directory.
struct StoredPart {
    PartInfo info;
    std::string file;
    std::int64_t mtime_ns = 0;
};
struct PartScan {
    std::map<std::uint32_t, StoredPart> parts;  // the live file of each part number
    std::vector<std::string> superseded;        // older files of a part number
};
// Lists `dir`'s part files (only those of part `only` when given: just their entries
// are stat'ed). When a crash left two files for one part number, the one with the
// newest mtime (commit stamps it) is live and the others are superseded.
core::Result<PartScan> scan_parts(const std::filesystem::path& dir,
                                  std::optional<std::uint32_t> only = std::nullopt);

}  // namespace audiodrop::storage
