#pragma once

#include <string>
#include <string_view>

#include "auth/auth_service.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"

namespace audiodrop::auth {

// Access tokens are compact JWTs (RFC 7519) signed with HS256 (RFC 7515 §3, HMAC-SHA256):
//   header  {"alg":"HS256","typ":"JWT"}
//   claims  {"iss":"audiodrop","typ":"partner"|"user","region","sub":client_id,
//            "uid":user_id (user tokens only),"iat","exp","jti",
//            "gen":the partner's token generation (absent: 0)}
// Nothing is stored per token, so any replica holding the key verifies it.

// Longer tokens are refused unread. Far above any token the service issues (a user id
// is at most 120 characters), so hostile input cannot cost much to parse.
inline constexpr std::size_t kMaxAccessTokenBytes = 8 * 1024;

// Signs a token for `principal`, valid until principal.expires_at.
std::string encode_access_token(const Principal& principal, core::TimePoint issued_at,
                                std::string_view key);

// Checks the token's shape, its header (only HS256 is accepted, "none" never), its
// signature (constant-time) and every claim's type; then that exp is after `now`.
// unauthenticated "invalid_token" for anything forged or malformed, "token_expired" for
// a genuine token past its exp. Never throws on hostile input.
core::Result<Principal> verify_access_token(std::string_view token, std::string_view key,
                                            core::TimePoint now);

// The unverified "region" claim of a token, or empty. Only for choosing a more helpful
// refusal ("use the other region's host") for a token that failed verification here,
// because another region signed it with its own key; never for granting access.
std::string peek_token_region(std::string_view token);

}  // namespace audiodrop::auth
