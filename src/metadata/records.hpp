#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/clock.hpp"

namespace audiodrop::metadata {

// A partner's credential. The secret itself is never stored, only its slow hash.
struct Partner {
    std::string client_id;
    std::string name;
    std::string region;
    std::string secret_hash;  // PHC string, e.g. "$argon2id$v=19$..."
    core::TimePoint created_at;
    // Raised each time the partner's tokens are revoked; tokens carry the generation
    // they were issued in, and those of an older one are refused.
    std::int64_t token_generation = 0;
    // Set while the partner is disabled: it gets no tokens.
    std::optional<core::TimePoint> disabled_at = std::nullopt;
};

// The token generation a deleted partner is known by: above any token's, so all of its
// tokens are refused.
inline constexpr std::int64_t kDeletedPartnerGeneration = INT64_MAX;

// What a partner holds in the store: uploads still open and completed files.
struct PartnerHoldings {
    std::uint64_t open_uploads = 0;
    std::uint64_t files = 0;
};

struct PartnerListing {
    Partner partner;
    PartnerHoldings holdings;
};

// A refresh token, stored by the SHA-256 of its value; spent once.
struct RefreshToken {
    std::string token_hash;  // hex SHA-256 of the token
    std::string client_id;
    core::TimePoint expires_at;
    std::int64_t token_generation = 0;  // the partner's, when the token was issued
};

enum class UploadState { open, completed, aborted, expired };

std::string_view to_string(UploadState s);
std::optional<UploadState> upload_state_from_string(std::string_view s);

// One upload and, once completed, the file it became (FileId names both).
struct UploadRecord {
    std::string file_id;
    std::string upload_id;
    std::string client_id;  // the partner that owns it
    std::string user_id;
    std::uint64_t filesize = 0;
    std::string filetype;  // lowercase
    std::uint64_t chunk_size = 0;
    std::uint32_t part_count = 0;
    std::string object_key;
    std::string storage_upload_id;  // the object store's own multipart upload id
    UploadState state = UploadState::open;
    core::TimePoint created_at;
    core::TimePoint expires_at;
    std::optional<core::TimePoint> completed_at;
    std::string file_md5;          // hex, set when completed
    std::string part_list_digest;  // hex SHA-256 of the accepted part list
    // What the completed bytes were found to be: the audio facts as a JSON object, and a
    // sentence when they are not the audio the filetype declares. Both empty when the
    // file was not probed.
    std::string audio;
    std::string audio_problem;
};

// What a complete records with the state change.
struct Completion {
    std::string file_md5;
    std::string part_list_digest;
    core::TimePoint completed_at;
    std::string audio;
    std::string audio_problem;
};

}  // namespace audiodrop::metadata
