#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace audiodrop::storage {

// A part as the store holds it. `etag` is lowercase hex MD5 without quotes.
struct PartInfo {
    std::uint32_t part_number = 0;
    std::string etag;
    std::uint64_t size = 0;
};

// A part the caller wants assembled, as named in complete-upload.
struct PartRef {
    std::uint32_t part_number = 0;
    std::string etag;  // lowercase hex, no quotes
};

struct ObjectInfo {
    std::uint64_t size = 0;
    std::string md5;  // lowercase hex MD5 of the whole object
};

// Reads a completed object; safe to use from one thread at a time.
class ObjectReader {
  public:
    virtual ~ObjectReader() = default;
    virtual std::uint64_t size() const = 0;
    virtual const std::string& md5() const = 0;  // lowercase hex
    virtual core::TimePoint last_modified() const = 0;
    // Reads up to out.size() bytes at `offset`; returns how many were read (0 at end).
    virtual core::Result<std::size_t> read(std::uint64_t offset, std::span<std::uint8_t> out) = 0;
};

// Where the bytes live. The service never carries a byte itself: clients PUT parts and
// GET objects through URLs presigned here. Errors: not_found ("NoSuchUpload",
// "NoSuchKey"), invalid_input ("InvalidPart", "BadDigest"), unavailable when the
// store cannot be reached, storage_full when it has no space. Thread-safe.
class ObjectStore {
  public:
    virtual ~ObjectStore() = default;

    // Starts a multipart upload of `key`; parts larger than max_part_size are refused
    // where the store can enforce it. Returns the store's upload id.
    virtual core::Result<std::string> create_multipart(const std::string& key,
                                                       std::uint64_t max_part_size) = 0;
    // The URLs the client PUTs parts 1..part_count to, in order; computed locally, no
    // network call.
    virtual core::Result<std::vector<std::string>> presign_parts(const std::string& key,
                                                                 const std::string& upload_id,
                                                                 std::uint32_t part_count,
                                                                 std::chrono::seconds ttl) = 0;
    // Parts received so far, ascending by part number.
    virtual core::Result<std::vector<PartInfo>> list_parts(const std::string& key,
                                                           const std::string& upload_id) = 0;
    // Assembles `parts` (ascending, each ETag matching the stored part; a store may
    // refuse, with invalid_input, a list that leaves out a part it holds) into the object
    // `key` and returns its size and MD5. When expected_md5 is given and differs, fails
    // with Reason::digest_mismatch and leaves the upload open, or, where the store cannot
    // reopen an assembled upload (S3), drops the object and fails with
    // Reason::upload_consumed.
    // Idempotent: completing an upload that
    // already became `key` with the same parts returns the same object.
    virtual core::Result<ObjectInfo> complete(const std::string& key, const std::string& upload_id,
                                              const std::vector<PartRef>& parts,
                                              const std::optional<std::string>& expected_md5) = 0;
    // Drops the upload and its parts; not_found when it is unknown. Idempotent in
    // effect: a second abort reports not_found and changes nothing.
    virtual core::Result<void> abort(const std::string& key, const std::string& upload_id) = 0;
    // A URL that GETs (and HEADs, with Range) the completed object.
    virtual core::Result<std::string> presign_get(const std::string& key,
                                                  std::chrono::seconds ttl) = 0;
    virtual core::Result<ObjectInfo> stat(const std::string& key) = 0;
    // Reads the completed object `key`; not_found "NoSuchKey".
    virtual core::Result<std::unique_ptr<ObjectReader>> read_object(const std::string& key) = 0;
    // Reads the bytes an open upload's `parts` would become, before it is completed,
    // where the store can (a local disk keeps them as files); null where it cannot (S3
    // assembles an upload only by completing it). Fails as complete does on a part list
    // that does not match the stored parts.
    virtual core::Result<std::unique_ptr<ObjectReader>> read_upload(
        const std::string& /*key*/, const std::string& /*upload_id*/,
        const std::vector<PartRef>& /*parts*/) {
        return std::unique_ptr<ObjectReader>();
    }
    // Deletes the object; deleting an absent object succeeds (S3 semantics).
    virtual core::Result<void> remove(const std::string& key) = 0;
    // Bytes the store can still take, where it knows them (a local disk); nullopt where
    // space is someone else's to manage (S3).
    virtual std::optional<std::uint64_t> free_bytes() const { return std::nullopt; }
};

}  // namespace audiodrop::storage
