#pragma once

#include <string>
#include <string_view>

namespace audiodrop::core {

// A random identifier with a readable prefix ("file_", "upload_", "pc_"): 128 bits
// from the CSPRNG, lowercase base32, so it is safe in URLs, paths and object keys.
std::string new_id(std::string_view prefix);

// True when `id` has `prefix` followed only by characters new_id produces.
bool looks_like_id(std::string_view id, std::string_view prefix);

}  // namespace audiodrop::core
