// libFuzzer target: an access token as AuthService::authenticate reads it after
// "Bearer ": auth::verify_access_token with a fixed signing key and clock, then
// auth::peek_token_region, as the server does for a token that fails.
//
// Input: byte 0 picks what the rest is.
//   0: the token.
//   1: a JOSE header, NUL, a claims set: encoded and signed here with the key, so that
//      verification gets past the signature to the claims.
//   2: region, NUL, client id, NUL, user id (empty: a partner token), NUL, then bytes for
//      the lifetime and the token generation: encode_access_token signs them, and the
//      token is verified.
//
// Properties beyond "no crash": a token that verifies names a region and a client, a user
// token also a user, and expires after now; its unverified region is the verified one;
// what encode_access_token signs verifies into the same principal when its fields are
// non-empty UTF-8 text and the token is within kMaxAccessTokenBytes, and any change to
// the token's last character is refused.

#include <cstddef>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

#include "auth/access_token.hpp"
#include "core/hashing.hpp"
#include "fuzz_support.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

constexpr std::string_view kKey = "fuzzing signing key, 32 bytes at least";

core::Result<auth::Principal> verify(std::string_view token) {
    auto principal = auth::verify_access_token(token, kKey, fuzz::kNow);
    const auto region = auth::peek_token_region(token);
    if (principal) {
        check(!principal->region.empty() && !principal->client_id.empty(),
              "a verified token names a region and a client");
        check(principal->kind != auth::TokenKind::user || !principal->user_id.empty(),
              "a verified user token names a user");
        check(principal->expires_at > fuzz::kNow, "a verified token has not expired");
        check(region == principal->region, "the unverified region is the verified one");
    }
    return principal;
}

// A token of the given header and claims, signed as the issuer signs (HS256).
std::string signed_token(std::string_view header, std::string_view claims) {
    std::string token = core::base64url_encode(header) + "." + core::base64url_encode(claims);
    const auto mac = core::hmac_sha256(kKey, token);
    token += "." + core::base64url_encode(
                       std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
    return token;
}

bool is_utf8(std::string_view s) {
    try {
        (void)nlohmann::json(std::string(s)).dump();  // throws on malformed UTF-8
        return true;
    } catch (const nlohmann::json::type_error&) {
        return false;
    }
}

void round_trip(std::string_view rest) {
    auth::Principal principal;
    principal.region = std::string(fuzz::next_field(rest));
    principal.client_id = std::string(fuzz::next_field(rest));
    principal.user_id = std::string(fuzz::next_field(rest));
    principal.kind = principal.user_id.empty() ? auth::TokenKind::partner : auth::TokenKind::user;
    std::uint32_t lifetime = 0;
    for (int i = 0; i < 3; ++i) lifetime = lifetime << 8 | fuzz::next_byte(rest);
    principal.expires_at = fuzz::kNow + std::chrono::seconds(1 + lifetime % (30 * 24 * 3600));
    principal.token_generation = fuzz::next_byte(rest);

    std::string token = auth::encode_access_token(principal, fuzz::kNow, kKey);
    const auto verified = verify(token);
    if (token.size() <= auth::kMaxAccessTokenBytes && !principal.region.empty() &&
        !principal.client_id.empty() && is_utf8(principal.region) && is_utf8(principal.client_id) &&
        is_utf8(principal.user_id)) {
        check(verified && verified->kind == principal.kind &&
                  verified->region == principal.region &&
                  verified->client_id == principal.client_id &&
                  verified->user_id == principal.user_id &&
                  verified->expires_at == principal.expires_at &&
                  verified->token_generation == principal.token_generation,
              "an issued token verifies into its principal");
    }
    token.back() = token.back() == 'A' ? 'B' : 'A';
    check(!verify(token), "a changed token does not verify");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    switch (fuzz::next_byte(rest) % 3) {
        case 0:
            (void)verify(rest);  // any outcome: the properties are checked inside
            break;
        case 1: {
            const auto header = fuzz::next_field(rest);
            (void)verify(signed_token(header, rest));  // likewise
            break;
        }
        default:
            round_trip(rest);
    }
    return 0;
}
