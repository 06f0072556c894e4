#pragma once

#include <cstddef>

#include "core/config.hpp"
#include "core/error.hpp"

namespace audiodrop::server {

// The shortest token signing key accepted, from flags or from secrets.json: HMAC-SHA256
// keys shorter than this are guessable offline from one token.
inline constexpr std::size_t kMinTokenSigningKeyChars = 32;

// Fills the storage keys and the token signing key that were not configured, from
// <data_dir>/secrets.json (mode 0600), so the keys stay the same across restarts and
// presigned URLs and tokens stay valid. Missing ones are generated under an flock on
// <data_dir>/secrets.lock, after re-reading the file: processes started together on a
// fresh data dir (`serve` and `partner create`) all end up with the same keys. The
// file is replaced whole by rename from a temp file opened O_EXCL | O_NOFOLLOW, so a
// reader never sees half a file and no planted symlink is followed.
core::Result<void> load_or_create_secrets(core::Config& config);

}  // namespace audiodrop::server
