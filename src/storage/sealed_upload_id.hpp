#pragma once

// Upload ids that carry their own record. The local store writes nothing when an
// upload starts: the id itself holds what create_multipart was asked for (the part
// size limit and the time), sealed with an HMAC over those and the object key under a
// key derived from the store's secret. The first part to arrive writes the upload's
// directory from it. An id the store did not mint, or a minted one used for another
// key, fails the seal and names no upload.
//
// Format: "mpu_" + base32(10 random bytes | max_part_size u64 | created i64 | 16-byte
// HMAC-SHA256 prefix), 72 characters. Ids minted before sealing existed ("mpu_" + 26
// characters) still name the upload directories they were created with.

#include <optional>
#include <string>
#include <string_view>

#include "core/hashing.hpp"
#include "storage/local_layout.hpp"

namespace audiodrop::storage {

class UploadIdSealer {
  public:
    // `secret`: the storage endpoint's secret key; the seal key is derived from it.
    explicit UploadIdSealer(std::string_view secret);

    std::string mint(const UploadRecord& record) const;
    // The record sealed in `upload_id`, if the store minted it for `key`.
    std::optional<UploadRecord> open(std::string_view upload_id, std::string_view key) const;

    // The format alone: "mpu_" and base32 of the sealed length (safe in a path).
    static bool looks_sealed(std::string_view upload_id);

  private:
    std::string mac(std::string_view payload, std::string_view key) const;

    core::Sha256Digest seal_key_;
};

}  // namespace audiodrop::storage
