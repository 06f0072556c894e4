#pragma once

#include <cstdint>

#include "core/error.hpp"
#include "metadata/records.hpp"

namespace audiodrop::metadata {

// create_upload's max_open_uploads when no quota applies.
inline constexpr std::uint64_t kNoUploadQuota = INT64_MAX;

// What create_upload lets an owner have open at once, checked atomically with the
// insert. Built from a number, it limits the user's open uploads only.
struct UploadQuota {
    UploadQuota(std::uint64_t per_user = kNoUploadQuota) : open_per_user(per_user) {}
    std::uint64_t open_per_user;
    std::uint64_t open_per_partner = kNoUploadQuota;
    // The declared filesizes of the partner's open uploads, added up: bytes in flight.
    std::uint64_t bytes_per_partner = kNoUploadQuota;
};

// What an owner has open: the figures an UploadQuota limits.
struct OpenUploads {
    std::uint64_t user_uploads = 0;
    std::uint64_t partner_uploads = 0;
    std::uint64_t partner_bytes = 0;
};

// The refusal of `u` under `quota` given what is open, for a store whose insert
// found no room: rate_limited with reason open_upload_quota, partner_upload_quota or
// partner_bytes_quota, whichever limit is full (the user's first).
core::Error quota_refusal(const UploadRecord& u, const UploadQuota& quota, const OpenUploads& open);

}  // namespace audiodrop::metadata
