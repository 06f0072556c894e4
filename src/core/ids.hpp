#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace audiodrop::core {

// A unique identifier with a readable prefix ("file_", "upload_", "pc_"): the time in
// milliseconds (48 bits) then 80 bits from the CSPRNG, in lowercase base32, so it is
// safe in URLs, paths and object keys. Ids made close in time share their first
// characters, so a database index takes them in a few neighbouring pages instead of
// one random page each.
std::string new_id(std::string_view prefix);

// True when `id` has `prefix` followed only by characters new_id produces.
bool looks_like_id(std::string_view id, std::string_view prefix);

// The lowercase, unpadded base32 new_id uses (RFC 4648 alphabet, lowercase), for ids
// that carry data of their own. decode gives nullopt for anything encode would not
// produce.
std::string base32_encode(std::string_view bytes);
std::optional<std::string> base32_decode(std::string_view text);

}  // namespace audiodrop::core
