#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <shared_mutex>
#include <string>
#include <string_view>
#include <unordered_map>

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
    // The partner's token generation when the token was issued; revoking the partner's
    // tokens raises the partner's, and tokens of an older one are refused.
    std::int64_t token_generation = 0;
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
    // for no limit.
    unsigned partner_requests_per_minute = 6000;
    // Count token requests in the metadata store, so the limits hold across replicas
    // that share it; otherwise each replica counts its own, in memory. API requests are
    // then counted in memory and added to the store's count by sync(), so checking them
    // never waits on the store; the limit holds to within what the replicas admit
    // between two syncs.
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
    // Revokes every token the partner holds: its refresh tokens at once, its access
    // tokens and its users' on every replica by that replica's next sync(). Tokens
    // issued afterwards work. not_found "partner_not_found" for an unknown client_id.
    core::Result<void> revoke_tokens(const std::string& client_id);
    // Partner administration. Each takes effect on every replica by its next sync(), and
    // each is not_found "partner_not_found" for an unknown client_id.
    // Revokes the partner's tokens, and it gets no new ones (unauthenticated
    // "partner_disabled") until enable_partner. Again on a disabled partner: revokes again
    // and keeps the time it was first disabled.
    core::Result<void> disable_partner(const std::string& client_id);
    // Lets a disabled partner get tokens again; the tokens revoked stay revoked.
    core::Result<void> enable_partner(const std::string& client_id);
    // Gives the partner a new secret (shown once) and revokes its tokens: the old secret
    // is refused at once.
    core::Result<PartnerCredential> rotate_secret(const std::string& client_id);
    // Deletes the partner as MetadataStore::delete_partner does; its tokens are refused
    // ("token_revoked") from then on. Returns the uploads it abandoned.
    core::Result<metadata::PartnerHoldings> delete_partner(const std::string& client_id,
                                                           bool with_uploads);

    // Basic client_id:secret_key -> a token pair, for a caller at `address` (the key its
    // connections are counted under). unauthenticated "invalid_client" for an unknown
    // client or wrong secret (same message for both); "partner_disabled" for a disabled
    // partner, told only to a caller with the right secret; rate_limited past
    // token_requests_per_minute_per_address for the address (checked first, before any
    // hashing) or token_requests_per_minute for the client_id.
    core::Result<PartnerTokens> issue_partner_token(std::string_view client_id,
                                                    std::string_view secret_key,
                                                    const std::string& address);
    // Spends `refresh_token` and returns a new pair; a spent, unknown or expired token
    // is unauthenticated "invalid_refresh_token", one of a disabled partner
    // "partner_disabled". Rate limited like issue_partner_token;
    // a refresh refused for its rate leaves the token unspent.
    core::Result<PartnerTokens> refresh(std::string_view refresh_token, const std::string& address);
    // `partner` must be a partner principal (forbidden otherwise). user_id must be
    // 6..120 characters (invalid_input "invalid_user_id"); expires_in, when given,
    // 60..user_token_max_ttl seconds (invalid_input "invalid_expires_in").
    core::Result<UserToken> issue_user_token(const Principal& partner, std::string_view user_id,
                                             std::optional<std::int64_t> expires_in);
    // Verifies a bearer token: unauthenticated "invalid_token" (malformed, bad signature),
    // "token_expired", "token_revoked", or "wrong_region" (message names the right host).
    // Never waits on the store: revocations are known from the last sync().
    core::Result<Principal> authenticate(std::string_view access_token) const;
    // Counts one API request made with `principal`'s token against its partner's
    // partner_requests_per_minute: rate_limited "partner_rate_limited" past it.
    core::Result<void> admit_request(const Principal& principal);
    // Brings this replica's view of state shared across replicas up to date: reads which
    // partners' tokens were revoked, and adds the API requests admitted since the last
    // sync to the shared counts. For a background thread, every second or so; it waits
    // on the store.
    core::Result<void> sync();

  private:
    core::Result<PartnerTokens> issue_pair(const metadata::Partner& partner);
    std::int64_t token_generation(const std::string& client_id) const;
    // Tokens of the partner older than `generation` are refused here at once, before the
    // next sync().
    void learn_generation(const std::string& client_id, std::int64_t generation);

    metadata::MetadataStore& store_;
    const core::Clock& clock_;
    std::string signing_key_;
    AuthOptions options_;
    std::unique_ptr<RateLimiter> client_limiter_;   // per client_id, proven callers only
    std::unique_ptr<RateLimiter> address_limiter_;  // per source address, every request
    std::unique_ptr<RateLimiter> request_limiter_;  // per partner, API requests; may be null
    // client_id -> token generation, of partners whose tokens were ever revoked, as of
    // the last sync.
    mutable std::shared_mutex generations_mutex_;
    std::unordered_map<std::string, std::int64_t> generations_;
};

}  // namespace audiodrop::auth
