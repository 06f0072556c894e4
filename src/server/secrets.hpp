#pragma once

#include "core/config.hpp"
#include "core/error.hpp"

namespace audiodrop::server {

// Fills the storage keys and the token signing key that were not configured, from
// <data_dir>/secrets.json, generating that file (mode 0600, written atomically) on the
// first start, so the keys stay the same across restarts and presigned URLs and
// tokens stay valid.
core::Result<void> load_or_create_secrets(core::Config& config);

}  // namespace audiodrop::server
