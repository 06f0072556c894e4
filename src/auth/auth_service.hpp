#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "auth/rate_limiter.hpp"
#include "core/clock.hpp"
#include "core/error.hpp"
#include "metadata/metadata_store.hpp"

namespace audiodrop::auth {

enum class TokenKind { partner, user };

// Who a verified access token speaks for.
struct Principal {
    TokenKind kind = TokenKind::user;
    std::string region;
    std::string client_id;
    std::string user_id;  // empty for partner tokens
    core::TimePoint expires_at;
};

struct PartnerCredential {
    std::string client_id;
    std::string secret_key;  // shown once; only its slow hash is stored
};

struct PartnerTokens {
    std::string access_token;
    std::string refresh_token;
    std::int64_t expires_in = 0;  // seconds
};

struct UserToken {
    std::string access_token;
    std::int64_t expires_in = 0;
};

struct AuthOptions {
    std::string region = "us";
    // Public API host of each region, named in the message that refuses a token from
    // another region ("us" -> "https://platform-us.example.com/developer/api").
    std::map<std::string, std::string> region_hosts;
    std::chrono::seconds partner_token_ttl{2 * 3600};
    std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
    std::chrono::seconds user_token_default_ttl{2 * 3600};
    std::chrono::seconds user_token_max_ttl{30 * 24 * 3600};
    // Token requests (partner token and refresh) allowed per client_id and per source
    // address. Only callers that proved they hold the client's secret or refresh token
    // count against the client_id, so strangers cannot use up a partner's allowance;
    // every request counts against its address, so made-up client_ids cannot dodge it.
    unsigned token_requests_per_minute = 10;
    unsigned token_requests_per_minute_per_address = 60;
    // API requests one partner's tokens (its own and its users') may make a minute; 0
    // for no limit. Counted in memory, by each replica for itself.
    unsigned partner_requests_per_minute = 6000;
    // Count token requests in the metadata store, so the limit holds across replicas
    // that share it; otherwise each replica counts its own, in memory.
    bool shared_rate_limits = false;
};

// The Authentication API: partner credentials, partner tokens with refresh rotation,
// user tokens, and verification of bearer tokens. Access tokens are stateless
// (HS256 JWTs signed with `signing_key`), so any replica sharing the key verifies
// them; refresh tokens are stored (hashed) and spent once. Thread-safe.
class AuthService {
  public:
    AuthService(metadata::MetadataStore& store, const core::Clock& clock, std::string signing_key,
                AuthOptions options);

    // Provisions a partner in this service's region.
    core::Result<PartnerCredential> create_partner(const std::string& name);

    // Basic client_id:secret_key -> a token pair, for a caller at `address` (the key its
    // connections are counted under). unauthenticated "invalid_client" for an unknown
    // client or wrong secret (same message for both); rate_limited past
    // token_requests_per_minute_per_address for the address (checked first, before any
    // hashing) or token_requests_per_minute for the client_id.
    core::Result<PartnerTokens> issue_partner_token(std::string_view client_id,
                                                    std::string_view secret_key,
                                                    const std::string& address);
    // Spends `refresh_token` and returns a new pair; a spent, unknown or expired token
    // is unauthenticated "invalid_refresh_token". Rate limited like issue_partner_token;
    // a refresh refused for its rate leaves the token unspent.
    core::Result<PartnerTokens> refresh(std::string_view refresh_token, const std::string& address);
    // `partner` must be a partner principal (forbidden otherwise). user_id must be
    // 6..120 characters (invalid_input "invalid_user_id"); expires_in, when given,
    // 60..user_token_max_ttl seconds (invalid_input "invalid_expires_in").
    core::Result<UserToken> issue_user_token(const Principal& partner, std::string_view user_id,
                                             std::optional<std::int64_t> expires_in);
    // Verifies a bearer token: unauthenticated "invalid_token" (malformed, bad signature),
    // "token_expired", or "wrong_region" (message names the right host).
    core::Result<Principal> authenticate(std::string_view access_token) const;
    // Counts one API request made with `principal`'s token against its partner's
    // partner_requests_per_minute: rate_limited "partner_rate_limited" past it.
    core::Result<void> admit_request(const Principal& principal);

  private:
    core::Result<PartnerTokens> issue_pair(const std::string& client_id);

    metadata::MetadataStore& store_;
    const core::Clock& clock_;
    std::string signing_key_;
    AuthOptions options_;
    std::unique_ptr<RateLimiter> client_limiter_;   // per client_id, proven callers only
    std::unique_ptr<RateLimiter> address_limiter_;  // per source address, every request
    std::unique_ptr<RateLimiter> request_limiter_;  // per partner, API requests; may be null
};

}  // namespace audiodrop::auth
