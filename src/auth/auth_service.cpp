#include "auth/auth_service.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "auth/access_token.hpp"
#include "auth/secret_hash.hpp"
#include "auth/shared_rate_limiter.hpp"
#include "core/hashing.hpp"
#include "core/ids.hpp"

namespace audiodrop::auth {
namespace {

using core::ErrorKind;

constexpr std::string_view kClientIdPrefix = "pc_";
constexpr std::size_t kSecretBytes = 32;
constexpr std::size_t kRefreshTokenBytes = 32;
constexpr std::size_t kMinUserIdChars = 6;
constexpr std::size_t kMaxUserIdChars = 120;
constexpr std::int64_t kMinUserTokenTtl = 60;
constexpr std::chrono::seconds kRateWindow{60};

// Verified against when the client_id is unknown, so an unknown client costs the same
// argon2 work as a wrong secret and timing does not tell the two apart. Same parameters
// as hash_secret; the secret behind it was random and thrown away.
constexpr const char* kDummySecretHash =
    "$argon2id$v=19$m=19456,t=2,p=1$jHmzrzufCgY3jlMF0qw4yA$"
    "vYmZrbmAX4wUnf+3gqi2/z58IOaBjFK4jvZVdZg+Cc4";

core::Error invalid_client() {
    return core::make_error(ErrorKind::unauthenticated, "invalid_client",
                            "client_id or secret_key is wrong");
}

core::Error invalid_refresh_token() {
    return core::make_error(ErrorKind::unauthenticated, "invalid_refresh_token",
                            "refresh token is unknown, expired or already used; request a new "
                            "partner token with your client credentials");
}

core::Error partner_disabled() {
    return core::make_error(ErrorKind::unauthenticated, "partner_disabled",
                            "this partner is disabled and gets no tokens; ask the service's "
                            "operator to enable it");
}

// A new client secret, shown once.
std::string new_secret() {
    return "sk_" + core::base64url_encode(core::random_bytes(kSecretBytes));
}

core::Error rate_limited(std::string_view whose, std::chrono::seconds wait) {
    core::Error e = core::make_error(ErrorKind::rate_limited, "rate_limited",
                                     "too many token requests " + std::string(whose) +
                                         "; retry in " + std::to_string(wait.count()) + " seconds");
    e.retry_after_seconds = static_cast<int>(wait.count());
    return e;
}

core::Error wrong_region(std::string message) {
    return core::make_error(ErrorKind::unauthenticated, "wrong_region", std::move(message));
}

std::string host_of(const AuthOptions& options, const std::string& region) {
    const auto it = options.region_hosts.find(region);
    return it != options.region_hosts.end() ? it->second : "the " + region + " region's host";
}

core::Error token_from_region(const AuthOptions& options, const std::string& region) {
    return wrong_region("this access token was issued in the " + region + " region; send it to " +
                        host_of(options, region));
}

// Counts the code points of a UTF-8 string; nullopt when it is not well-formed UTF-8
// (overlong forms, surrogates and values past U+10FFFF included) or holds a control
// character (C0, DEL or C1), which has no place in an identifier.
std::optional<std::size_t> count_printable_chars(std::string_view s) {
    std::size_t count = 0;
    std::size_t i = 0;
    while (i < s.size()) {
        const auto lead = static_cast<unsigned char>(s[i]);
        std::size_t len = 0;
        char32_t cp = 0;
        if (lead < 0x80) {
            len = 1;
            cp = lead;
        } else if (lead >= 0xc2 && lead <= 0xdf) {
            len = 2;
            cp = lead & 0x1f;
        } else if (lead >= 0xe0 && lead <= 0xef) {
            len = 3;
            cp = lead & 0x0f;
        } else if (lead >= 0xf0 && lead <= 0xf4) {
            len = 4;
            cp = lead & 0x07;
        } else {
            return std::nullopt;
        }
        if (s.size() - i < len) return std::nullopt;
        for (std::size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(s[i + k]);
            if ((c & 0xc0) != 0x80) return std::nullopt;
            cp = (cp << 6) | (c & 0x3f);
        }
        const bool overlong = (len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000);
        if (overlong || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return std::nullopt;
        if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f)) return std::nullopt;
        ++count;
        i += len;
    }
    return count;
}

std::unique_ptr<RateLimiter> make_token_limiter(metadata::MetadataStore& store,
                                                const core::Clock& clock,
                                                const AuthOptions& options, unsigned limit,
                                                std::string scope) {
    if (options.shared_rate_limits) {
        return std::make_unique<SharedRateLimiter>(store, clock, limit, kRateWindow,
                                                   std::move(scope));
    }
    return std::make_unique<InMemoryRateLimiter>(clock, limit, kRateWindow);
}

std::unique_ptr<RateLimiter> make_request_limiter(metadata::MetadataStore& store,
                                                  const core::Clock& clock,
                                                  const AuthOptions& options) {
    const unsigned limit = options.partner_requests_per_minute;
    if (limit == 0) return nullptr;
    if (options.shared_rate_limits) {
        return std::make_unique<BatchedSharedRateLimiter>(store, clock, limit, kRateWindow,
                                                          "partner-requests");
    }
    return std::make_unique<InMemoryRateLimiter>(clock, limit, kRateWindow);
}

}  // namespace

AuthService::AuthService(metadata::MetadataStore& store, const core::Clock& clock,
                         std::string signing_key, AuthOptions options)
    : store_(store),
      clock_(clock),
      signing_key_(std::move(signing_key)),
      options_(std::move(options)),
      client_limiter_(make_token_limiter(store_, clock_, options_,
                                         options_.token_requests_per_minute, "token")),
      address_limiter_(make_token_limiter(store_, clock_, options_,
                                          options_.token_requests_per_minute_per_address,
                                          "token-address")),
      request_limiter_(make_request_limiter(store_, clock_, options_)) {
    if (signing_key_.empty()) throw std::invalid_argument("AuthService needs a signing key");
}

core::Result<PartnerCredential> AuthService::create_partner(const std::string& name) {
    if (name.empty()) {
        return core::make_error(ErrorKind::invalid_input, "invalid_name",
                                "a partner needs a non-empty name");
    }
    PartnerCredential credential{
        .client_id = core::new_id(kClientIdPrefix),
        .secret_key = new_secret(),
    };
    const metadata::Partner partner{
        .client_id = credential.client_id,
        .name = name,
        .region = options_.region,
        .secret_hash = hash_secret(credential.secret_key),
        .created_at = clock_.now(),
    };
    if (auto stored = store_.create_partner(partner); !stored) return stored.error();
    return credential;
}

core::Result<PartnerTokens> AuthService::issue_partner_token(std::string_view client_id,
                                                             std::string_view secret_key,
                                                             const std::string& address) {
    // Before any lookup or hashing, so guessing secrets is slow and cheap for us, and
    // made-up client_ids share their sender's limit.
    AUDIODROP_TRY_ASSIGN(auto wait, address_limiter_->acquire(address));
    if (wait) return rate_limited("from this address", *wait);

    const std::string id(client_id);
    std::optional<metadata::Partner> found;
    // Ids this service never mints are not looked up (PostgreSQL refuses text with NUL
    // bytes).
    if (core::looks_like_id(id, kClientIdPrefix)) {
        AUDIODROP_TRY_ASSIGN(found, store_.find_partner(id));
    }
    if (!found) {
        // Only the time it takes matters: an unknown client costs what a wrong secret does.
        (void)verify_secret(secret_key, kDummySecretHash);
        return invalid_client();
    }
    const metadata::Partner& partner = *found;
    if (!verify_secret(secret_key, partner.secret_hash)) return invalid_client();
    // Counted only now: wrong secrets from a stranger never use up the partner's limit.
    AUDIODROP_TRY_ASSIGN(wait, client_limiter_->acquire(partner.client_id));
    if (wait) return rate_limited("for this client_id", *wait);
    // Told only to the holder of the right secret, so it reveals nothing to guessers.
    if (partner.region != options_.region) {
        return wrong_region("these client credentials belong to the " + partner.region +
                            " region; request tokens from " + host_of(options_, partner.region));
    }
    if (partner.disabled_at) return partner_disabled();
    return issue_pair(partner);
}

core::Result<PartnerTokens> AuthService::refresh(std::string_view refresh_token,
                                                 const std::string& address) {
    if (refresh_token.empty()) return invalid_refresh_token();
    AUDIODROP_TRY_ASSIGN(auto wait, address_limiter_->acquire(address));
    if (wait) return rate_limited("from this address", *wait);

    // Looked up, counted, checked, replaced, and only then spent: a refresh that fails
    // at any step (its rate, a full disk) leaves the caller its token.
    const std::string token_hash = core::to_hex(core::sha256(refresh_token));
    AUDIODROP_TRY_ASSIGN(const auto live, store_.find_refresh_token(token_hash, clock_.now()));
    if (!live) return invalid_refresh_token();
    AUDIODROP_TRY_ASSIGN(wait, client_limiter_->acquire(live->client_id));
    if (wait) return rate_limited("for this client_id", *wait);
    AUDIODROP_TRY_ASSIGN(const auto partner, store_.find_partner(live->client_id));
    if (!partner) return invalid_refresh_token();
    if (partner->region != options_.region) {
        return wrong_region("this refresh token belongs to the " + partner->region +
                            " region; refresh it at " + host_of(options_, partner->region));
    }
    if (partner->disabled_at) return partner_disabled();
    // Issued before the partner's tokens were revoked.
    if (live->token_generation < partner->token_generation) return invalid_refresh_token();
    AUDIODROP_TRY_ASSIGN(auto pair, issue_pair(*partner));
    AUDIODROP_TRY_ASSIGN(const auto spent, store_.spend_refresh_token(token_hash, clock_.now()));
    // Spent by a concurrent refresh in between: the pair made here is never handed out,
    // and its refresh token expires unused.
    if (!spent) return invalid_refresh_token();
    return pair;
}

core::Result<UserToken> AuthService::issue_user_token(const Principal& partner,
                                                      std::string_view user_id,
                                                      std::optional<std::int64_t> expires_in) {
    if (partner.kind != TokenKind::partner) {
        return core::make_error(ErrorKind::forbidden, "partner_token_required",
                                "user tokens are issued only to a partner access token, not a "
                                "user token");
    }
    const auto chars = count_printable_chars(user_id);
    if (!chars || *chars < kMinUserIdChars || *chars > kMaxUserIdChars) {
        return core::make_error(ErrorKind::invalid_input, "invalid_user_id",
                                "user_id must be 6 to 120 characters of UTF-8 text without "
                                "control characters");
    }
    std::chrono::seconds ttl = options_.user_token_default_ttl;
    if (expires_in) {
        const std::int64_t max_ttl = options_.user_token_max_ttl.count();
        if (*expires_in < kMinUserTokenTtl || *expires_in > max_ttl) {
            return core::make_error(ErrorKind::invalid_input, "invalid_expires_in",
                                    "expires_in must be between " +
                                        std::to_string(kMinUserTokenTtl) + " and " +
                                        std::to_string(max_ttl) + " seconds");
        }
        ttl = std::chrono::seconds{*expires_in};
    }
    const core::TimePoint now = clock_.now();
    const Principal user{
        .kind = TokenKind::user,
        .region = options_.region,
        .client_id = partner.client_id,
        .user_id = std::string(user_id),
        .expires_at = now + ttl,
        .token_generation = partner.token_generation,
    };
    return UserToken{.access_token = encode_access_token(user, now, signing_key_),
                     .expires_in = ttl.count()};
}

core::Result<void> AuthService::admit_request(const Principal& principal) {
    if (!request_limiter_) return {};
    AUDIODROP_TRY_ASSIGN(const auto wait, request_limiter_->acquire(principal.client_id));
    if (!wait) return {};
    core::Error e = core::make_error(
        ErrorKind::rate_limited, "partner_rate_limited",
        "this partner's tokens have made " + std::to_string(options_.partner_requests_per_minute) +
            " requests in the last minute, the most allowed; retry in " +
            std::to_string(wait->count()) + " seconds");
    e.retry_after_seconds = static_cast<int>(wait->count());
    return e;
}

core::Result<void> AuthService::sync() {
    auto generations = store_.revoked_token_generations();
    if (generations) {
        std::unordered_map<std::string, std::int64_t> loaded(generations->begin(),
                                                             generations->end());
        std::unique_lock lock(generations_mutex_);
        generations_ = std::move(loaded);
    }
    // Counts are shared even when the generations could not be read, and vice versa.
    auto counted = request_limiter_ ? request_limiter_->sync() : core::Result<void>();
    if (!generations) return generations.error();
    return counted;
}

core::Result<Principal> AuthService::authenticate(std::string_view access_token) const {
    auto verified = verify_access_token(access_token, signing_key_, clock_.now());
    if (!verified) {
        // Another region signs with its own key, so its tokens fail verification here;
        // their unverified region claim still lets us point the caller the right way.
        if (verified.error().code == "invalid_token") {
            const std::string region = peek_token_region(access_token);
            if (region != options_.region && options_.region_hosts.contains(region)) {
                return token_from_region(options_, region);
            }
        }
        return verified.error();
    }
    if (verified->region != options_.region) {
        return token_from_region(options_, verified->region);
    }
    if (verified->token_generation < token_generation(verified->client_id)) {
        return core::make_error(ErrorKind::unauthenticated, "token_revoked",
                                "this access token was revoked; get a new one");
    }
    return verified;
}

std::int64_t AuthService::token_generation(const std::string& client_id) const {
    std::shared_lock lock(generations_mutex_);
    const auto it = generations_.find(client_id);
    return it == generations_.end() ? 0 : it->second;
}

void AuthService::learn_generation(const std::string& client_id, std::int64_t generation) {
    std::unique_lock lock(generations_mutex_);
    auto& known = generations_[client_id];
    known = std::max(known, generation);
}

core::Result<void> AuthService::revoke_tokens(const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(const std::int64_t generation, store_.revoke_partner_tokens(client_id));
    learn_generation(client_id, generation);
    return {};
}

core::Result<void> AuthService::disable_partner(const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(const std::int64_t generation,
                         store_.disable_partner(client_id, clock_.now()));
    learn_generation(client_id, generation);
    return {};
}

core::Result<void> AuthService::enable_partner(const std::string& client_id) {
    return store_.enable_partner(client_id);
}

core::Result<PartnerCredential> AuthService::rotate_secret(const std::string& client_id) {
    PartnerCredential credential{.client_id = client_id, .secret_key = new_secret()};
    AUDIODROP_TRY_ASSIGN(
        const std::int64_t generation,
        store_.replace_partner_secret(client_id, hash_secret(credential.secret_key)));
    learn_generation(client_id, generation);
    return credential;
}

core::Result<metadata::PartnerHoldings> AuthService::delete_partner(const std::string& client_id,
                                                                    bool with_uploads) {
    AUDIODROP_TRY_ASSIGN(const auto abandoned,
                         store_.delete_partner(client_id, clock_.now(), with_uploads));
    learn_generation(client_id, metadata::kDeletedPartnerGeneration);
    return abandoned;
}

core::Result<PartnerTokens> AuthService::issue_pair(const metadata::Partner& partner) {
    const core::TimePoint now = clock_.now();
    const Principal principal{
        .kind = TokenKind::partner,
        .region = options_.region,
        .client_id = partner.client_id,
        .user_id = {},
        .expires_at = now + options_.partner_token_ttl,
        .token_generation = partner.token_generation,
    };
    PartnerTokens tokens{
        .access_token = encode_access_token(principal, now, signing_key_),
        .refresh_token = "rt_" + core::base64url_encode(core::random_bytes(kRefreshTokenBytes)),
        .expires_in = options_.partner_token_ttl.count(),
    };
    const metadata::RefreshToken stored{
        .token_hash = core::to_hex(core::sha256(tokens.refresh_token)),
        .client_id = partner.client_id,
        .expires_at = now + options_.refresh_token_ttl,
        .token_generation = partner.token_generation,
    };
    if (auto added = store_.add_refresh_token(stored); !added) return added.error();
    return tokens;
}

}  // namespace audiodrop::auth
