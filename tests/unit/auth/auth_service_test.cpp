#include "auth/auth_service.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "auth/access_token.hpp"
#include "auth/secret_hash.hpp"
#include "core/hashing.hpp"
#include "core/ids.hpp"
#include "fake_clock.hpp"
#include "metadata/sqlite_metadata_store.hpp"

namespace audiodrop::auth {
namespace {

using core::ErrorKind;
using std::chrono::seconds;
using testing::FakeClock;

constexpr std::string_view kKey = "test signing key, 32 bytes long!";
constexpr std::string_view kUsHost = "https://platform-us.example.com/developer/api";
constexpr std::string_view kEuHost = "https://platform-eu.example.com/developer/api";
// The source addresses token requests come from.
const std::string kHere = "192.0.2.1";
const std::string kStranger = "198.51.100.7";

AuthOptions options_for(std::string region) {
    AuthOptions o;
    o.region = std::move(region);
    o.region_hosts = {{"us", std::string(kUsHost)}, {"eu", std::string(kEuHost)}};
    return o;
}

class AuthServiceTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / core::new_id("auth_test_");
        std::filesystem::create_directories(dir_);
        auto opened = metadata::SqliteMetadataStore::open((dir_ / "meta.db").string());
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
        service_ =
            std::make_unique<AuthService>(*store_, clock_, std::string(kKey), options_for("us"));
    }
    void TearDown() override {
        service_.reset();
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    PartnerCredential new_partner() {
        auto created = service_->create_partner("Example Partner");
        EXPECT_TRUE(created) << created.error().message;
        return *created;
    }

    PartnerTokens tokens_for(const PartnerCredential& c) {
        auto issued = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
        EXPECT_TRUE(issued) << issued.error().message;
        return *issued;
    }

    Principal partner_principal(const PartnerCredential& c) {
        auto p = service_->authenticate(tokens_for(c).access_token);
        EXPECT_TRUE(p) << p.error().message;
        return *p;
    }

    // A partner stored as another region's service would have created it.
    PartnerCredential foreign_partner(const std::string& region) {
        PartnerCredential c{core::new_id("pc_"), "sk_foreign"};
        auto stored = store_->create_partner(metadata::Partner{
            c.client_id, "Foreign", region, hash_secret(c.secret_key), clock_.now()});
        EXPECT_TRUE(stored);
        return c;
    }

    FakeClock clock_;
    std::filesystem::path dir_;
    std::unique_ptr<metadata::SqliteMetadataStore> store_;
    std::unique_ptr<AuthService> service_;
};

void expect_error(const core::Error& e, ErrorKind kind, std::string_view code) {
    EXPECT_EQ(e.kind, kind) << e.code << ": " << e.message;
    EXPECT_EQ(e.code, code) << e.message;
    EXPECT_FALSE(e.message.empty());
}

TEST_F(AuthServiceTest, CreatePartnerStoresOnlyASlowHashOfTheSecret) {
    const PartnerCredential c = new_partner();
    EXPECT_TRUE(core::looks_like_id(c.client_id, "pc_")) << c.client_id;
    EXPECT_TRUE(c.secret_key.starts_with("sk_"));
    EXPECT_EQ(c.secret_key.size(), 3u + 43u);  // 32 random bytes, base64url

    auto found = store_->find_partner(c.client_id);
    ASSERT_TRUE(found && *found);
    EXPECT_EQ((*found)->name, "Example Partner");
    EXPECT_EQ((*found)->region, "us");
    EXPECT_TRUE((*found)->secret_hash.starts_with("$argon2id$"));
    EXPECT_EQ((*found)->secret_hash.find(c.secret_key), std::string::npos);
    EXPECT_TRUE(verify_secret(c.secret_key, (*found)->secret_hash));

    EXPECT_NE(new_partner().client_id, c.client_id);
}

TEST_F(AuthServiceTest, CreatePartnerNeedsAName) {
    auto created = service_->create_partner("");
    ASSERT_FALSE(created);
    expect_error(created.error(), ErrorKind::invalid_input, "invalid_name");
}

TEST_F(AuthServiceTest, PartnerTokenFlowIssuesAPartnerTokenAndARefreshToken) {
    const PartnerCredential c = new_partner();
    const PartnerTokens t = tokens_for(c);
    EXPECT_EQ(t.expires_in, 7200);
    EXPECT_TRUE(t.refresh_token.starts_with("rt_"));
    EXPECT_EQ(t.refresh_token.size(), 3u + 43u);

    auto p = service_->authenticate(t.access_token);
    ASSERT_TRUE(p) << p.error().message;
    EXPECT_EQ(p->kind, TokenKind::partner);
    EXPECT_EQ(p->client_id, c.client_id);
    EXPECT_EQ(p->region, "us");
    EXPECT_EQ(p->user_id, "");
    EXPECT_EQ(p->expires_at, clock_.now() + seconds{7200});

    // The refresh token is stored by its hash only, and can be spent exactly once.
    const std::string hash = core::to_hex(core::sha256(t.refresh_token));
    auto spent = store_->spend_refresh_token(hash, clock_.now());
    ASSERT_TRUE(spent && *spent);
    EXPECT_EQ((*spent)->client_id, c.client_id);
    EXPECT_EQ((*spent)->expires_at, clock_.now() + seconds{30 * 24 * 3600});
}

TEST_F(AuthServiceTest, PartnerTokenExpiresAfterItsTtl) {
    const PartnerTokens t = tokens_for(new_partner());
    clock_.advance(seconds{7199});
    EXPECT_TRUE(service_->authenticate(t.access_token));
    clock_.advance(seconds{1});
    auto p = service_->authenticate(t.access_token);
    ASSERT_FALSE(p);
    expect_error(p.error(), ErrorKind::unauthenticated, "token_expired");
}

TEST_F(AuthServiceTest, WrongSecretAndUnknownClientGetTheSameError) {
    const PartnerCredential c = new_partner();
    auto wrong_secret = service_->issue_partner_token(c.client_id, c.secret_key + "x", kHere);
    auto unknown_client = service_->issue_partner_token(core::new_id("pc_"), c.secret_key, kHere);
    auto empty = service_->issue_partner_token("", "", kHere);
    for (const auto* r : {&wrong_secret, &unknown_client, &empty}) {
        ASSERT_FALSE(*r);
        expect_error(r->error(), ErrorKind::unauthenticated, "invalid_client");
        EXPECT_EQ(r->error().message, wrong_secret.error().message);
    }
    EXPECT_TRUE(service_->issue_partner_token(c.client_id, c.secret_key, kHere));
}

TEST_F(AuthServiceTest, PartnerOfAnotherRegionIsSentToItsHost) {
    const PartnerCredential eu = foreign_partner("eu");
    auto refused = service_->issue_partner_token(eu.client_id, eu.secret_key, kHere);
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::unauthenticated, "wrong_region");
    EXPECT_NE(refused.error().message.find(kEuHost), std::string::npos) << refused.error().message;

    // Only the holder of the secret learns where the partner lives.
    auto guessed = service_->issue_partner_token(eu.client_id, "sk_guess", kHere);
    ASSERT_FALSE(guessed);
    EXPECT_EQ(guessed.error().code, "invalid_client");

    const PartnerCredential ap = foreign_partner("ap");
    auto unmapped = service_->issue_partner_token(ap.client_id, ap.secret_key, kHere);
    ASSERT_FALSE(unmapped);
    EXPECT_EQ(unmapped.error().code, "wrong_region");
    EXPECT_NE(unmapped.error().message.find("the ap region's host"), std::string::npos)
        << unmapped.error().message;
}

TEST_F(AuthServiceTest, RefreshRotatesTheTokenPair) {
    const PartnerCredential c = new_partner();
    const PartnerTokens first = tokens_for(c);
    clock_.advance(seconds{100});

    auto second = service_->refresh(first.refresh_token, kHere);
    ASSERT_TRUE(second) << second.error().message;
    EXPECT_NE(second->refresh_token, first.refresh_token);
    EXPECT_NE(second->access_token, first.access_token);
    EXPECT_EQ(second->expires_in, 7200);
    auto p = service_->authenticate(second->access_token);
    ASSERT_TRUE(p);
    EXPECT_EQ(p->kind, TokenKind::partner);
    EXPECT_EQ(p->client_id, c.client_id);
    EXPECT_EQ(p->expires_at, clock_.now() + seconds{7200});

    auto reused = service_->refresh(first.refresh_token, kHere);
    ASSERT_FALSE(reused);
    expect_error(reused.error(), ErrorKind::unauthenticated, "invalid_refresh_token");
    EXPECT_NE(reused.error().message.find("client credentials"), std::string::npos);

    auto third = service_->refresh(second->refresh_token, kHere);
    ASSERT_TRUE(third) << third.error().message;
    EXPECT_TRUE(service_->authenticate(third->access_token));
}

TEST_F(AuthServiceTest, ConcurrentRefreshesOfOneTokenHaveOneWinner) {
    const PartnerTokens t = tokens_for(new_partner());
    std::atomic<int> won{0};
    std::atomic<int> refused{0};
    std::vector<std::thread> threads;
    for (int i = 0; i < 6; ++i) {
        threads.emplace_back([&] {
            auto r = service_->refresh(t.refresh_token, kHere);
            if (r) {
                ++won;
            } else if (r.error().code == "invalid_refresh_token") {
                ++refused;
            }
        });
    }
    for (auto& th : threads) th.join();
    EXPECT_EQ(won.load(), 1);
    EXPECT_EQ(refused.load(), 5);
}

TEST_F(AuthServiceTest, ExpiredRefreshTokenIsRefused) {
    const PartnerTokens t = tokens_for(new_partner());
    clock_.advance(seconds{30 * 24 * 3600});
    auto r = service_->refresh(t.refresh_token, kHere);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorKind::unauthenticated, "invalid_refresh_token");
}

TEST_F(AuthServiceTest, RefreshTokenWorksUntilItExpires) {
    const PartnerTokens t = tokens_for(new_partner());
    clock_.advance(seconds{30 * 24 * 3600 - 1});
    EXPECT_TRUE(service_->refresh(t.refresh_token, kHere));
}

TEST_F(AuthServiceTest, UnknownRefreshTokensAreRefused) {
    const PartnerTokens t = tokens_for(new_partner());
    for (const std::string& bad :
         {std::string(), std::string("rt_unknown"), t.access_token, t.refresh_token + "x"}) {
        auto r = service_->refresh(bad, kHere);
        ASSERT_FALSE(r) << bad;
        expect_error(r.error(), ErrorKind::unauthenticated, "invalid_refresh_token");
    }
    EXPECT_TRUE(service_->refresh(t.refresh_token, kHere));
}

TEST_F(AuthServiceTest, UserTokenSpeaksForTheUserOfThePartner) {
    const PartnerCredential c = new_partner();
    const Principal partner = partner_principal(c);
    auto issued = service_->issue_user_token(partner, "user-000042", std::nullopt);
    ASSERT_TRUE(issued) << issued.error().message;
    EXPECT_EQ(issued->expires_in, 7200);

    auto user = service_->authenticate(issued->access_token);
    ASSERT_TRUE(user) << user.error().message;
    EXPECT_EQ(user->kind, TokenKind::user);
    EXPECT_EQ(user->client_id, c.client_id);
    EXPECT_EQ(user->user_id, "user-000042");
    EXPECT_EQ(user->region, "us");
    EXPECT_EQ(user->expires_at, clock_.now() + seconds{7200});
}

TEST_F(AuthServiceTest, UserIdMustBe6To120Characters) {
    const Principal partner = partner_principal(new_partner());
    auto issue = [&](const std::string& user_id) {
        return service_->issue_user_token(partner, user_id, std::nullopt);
    };
    for (const std::string& bad :
         {std::string(5, 'u'), std::string(121, 'u'), std::string(), std::string(1000, 'u')}) {
        auto r = issue(bad);
        ASSERT_FALSE(r) << bad.size();
        expect_error(r.error(), ErrorKind::invalid_input, "invalid_user_id");
    }
    for (const std::string& good : {std::string(6, 'u'), std::string(120, 'u')}) {
        auto r = issue(good);
        ASSERT_TRUE(r) << good.size();
        EXPECT_EQ(service_->authenticate(r->access_token)->user_id, good);
    }
}

TEST_F(AuthServiceTest, UserIdLengthCountsCharactersNotBytes) {
    const Principal partner = partner_principal(new_partner());
    std::string six_accents, hundred_twenty_accents, hundred_twenty_one_accents;
    for (int i = 0; i < 121; ++i) {
        if (i < 6) six_accents += "\xc3\xa9";  // é
        if (i < 120) hundred_twenty_accents += "\xc3\xa9";
        hundred_twenty_one_accents += "\xc3\xa9";
    }
    EXPECT_TRUE(service_->issue_user_token(partner, six_accents, std::nullopt));
    EXPECT_TRUE(service_->issue_user_token(partner, hundred_twenty_accents, std::nullopt));
    EXPECT_TRUE(service_->issue_user_token(partner, "\xf0\x9f\x8e\xa7user1", std::nullopt));
    EXPECT_FALSE(service_->issue_user_token(partner, "\xf0\x9f\x8e\xa7user", std::nullopt));
    EXPECT_FALSE(service_->issue_user_token(partner, hundred_twenty_one_accents, std::nullopt));
    EXPECT_FALSE(service_->issue_user_token(partner, "\xc3\xa9\xc3\xa9\xc3\xa9", std::nullopt));
}

TEST_F(AuthServiceTest, UserIdMustBeTextWithoutControlCharacters) {
    const Principal partner = partner_principal(new_partner());
    for (const std::string& bad : {
             std::string("user\n42"), std::string("user\t042"),
             std::string("user\x7f"
                         "42"),
             std::string("user\0"
                         "042",
                         8),
             std::string("user\xc2\x85"
                         "42"),  // NEL, a C1 control
             std::string("user\xff"
                         "4242"),  // not UTF-8
             std::string("user\xc0\xaf"
                         "42"),  // overlong '/'
             std::string("user\xed\xa0\x80"
                         "42"),              // a surrogate
             std::string("user42\xe2\x82"),  // truncated sequence
         }) {
        auto r = service_->issue_user_token(partner, bad, std::nullopt);
        ASSERT_FALSE(r) << bad;
        expect_error(r.error(), ErrorKind::invalid_input, "invalid_user_id");
    }
    EXPECT_TRUE(service_->issue_user_token(partner, "user 42@example.com", std::nullopt));
}

TEST_F(AuthServiceTest, ExpiresInMustBeWithinBounds) {
    const Principal partner = partner_principal(new_partner());
    const std::int64_t max = 30 * 24 * 3600;
    for (std::int64_t bad : {std::int64_t{59}, std::int64_t{0}, std::int64_t{-60}, max + 1,
                             std::numeric_limits<std::int64_t>::max()}) {
        auto r = service_->issue_user_token(partner, "user-000042", bad);
        ASSERT_FALSE(r) << bad;
        expect_error(r.error(), ErrorKind::invalid_input, "invalid_expires_in");
    }
    for (std::int64_t good : {std::int64_t{60}, std::int64_t{3600}, max}) {
        auto r = service_->issue_user_token(partner, "user-000042", good);
        ASSERT_TRUE(r) << good;
        EXPECT_EQ(r->expires_in, good);
        EXPECT_EQ(service_->authenticate(r->access_token)->expires_at,
                  clock_.now() + seconds{good});
    }
}

TEST_F(AuthServiceTest, ShortUserTokenExpiresOnTime) {
    const Principal partner = partner_principal(new_partner());
    auto r = service_->issue_user_token(partner, "user-000042", 60);
    ASSERT_TRUE(r);
    clock_.advance(seconds{59});
    EXPECT_TRUE(service_->authenticate(r->access_token));
    clock_.advance(seconds{1});
    auto expired = service_->authenticate(r->access_token);
    ASSERT_FALSE(expired);
    expect_error(expired.error(), ErrorKind::unauthenticated, "token_expired");
}

TEST_F(AuthServiceTest, UserTokenNeedsAPartnerToken) {
    const Principal partner = partner_principal(new_partner());
    auto user_token = service_->issue_user_token(partner, "user-000042", std::nullopt);
    ASSERT_TRUE(user_token);
    auto user = service_->authenticate(user_token->access_token);
    ASSERT_TRUE(user);
    auto r = service_->issue_user_token(*user, "user-000043", std::nullopt);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorKind::forbidden, "partner_token_required");
}

TEST_F(AuthServiceTest, GarbageTokensAreInvalid) {
    const PartnerTokens t = tokens_for(new_partner());
    for (const std::string& bad :
         {std::string(), std::string("Bearer x"), t.refresh_token, t.access_token + "x"}) {
        auto r = service_->authenticate(bad);
        ASSERT_FALSE(r) << bad;
        expect_error(r.error(), ErrorKind::unauthenticated, "invalid_token");
    }
}

TEST_F(AuthServiceTest, TokenOfAnotherRegionNamesThatRegionsHost) {
    // Same key: the token verifies, and its region is wrong.
    AuthService eu(*store_, clock_, std::string(kKey), options_for("eu"));
    const Principal eu_partner{TokenKind::partner, "eu", "pc_someone", "", clock_.now()};
    auto eu_user = eu.issue_user_token(eu_partner, "user-000042", std::nullopt);
    ASSERT_TRUE(eu_user);
    auto r = service_->authenticate(eu_user->access_token);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorKind::unauthenticated, "wrong_region");
    EXPECT_NE(r.error().message.find(kEuHost), std::string::npos) << r.error().message;
    // ...and the eu service itself accepts it.
    EXPECT_TRUE(eu.authenticate(eu_user->access_token));

    // Another key, as separate regions have: still pointed to the right host.
    AuthService eu_own_key(*store_, clock_, "eu's own signing key", options_for("eu"));
    auto own = eu_own_key.issue_user_token(eu_partner, "user-000042", std::nullopt);
    ASSERT_TRUE(own);
    r = service_->authenticate(own->access_token);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorKind::unauthenticated, "wrong_region");
    EXPECT_NE(r.error().message.find(kEuHost), std::string::npos) << r.error().message;
}

TEST_F(AuthServiceTest, TokenOfAnUnmappedRegionNamesItAnyway) {
    AuthService ap(*store_, clock_, std::string(kKey), options_for("ap"));
    const Principal ap_partner{TokenKind::partner, "ap", "pc_someone", "", clock_.now()};
    auto ap_user = ap.issue_user_token(ap_partner, "user-000042", std::nullopt);
    ASSERT_TRUE(ap_user);
    auto r = service_->authenticate(ap_user->access_token);
    ASSERT_FALSE(r);
    expect_error(r.error(), ErrorKind::unauthenticated, "wrong_region");
    EXPECT_NE(r.error().message.find("the ap region's host"), std::string::npos);

    // A forged token claiming a region we do not know is simply invalid.
    AuthService forger(*store_, clock_, "not our key", options_for("xx"));
    const Principal xx{TokenKind::partner, "xx", "pc_someone", "", clock_.now()};
    auto forged = forger.issue_user_token(xx, "user-000042", std::nullopt);
    ASSERT_TRUE(forged);
    r = service_->authenticate(forged->access_token);
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "invalid_token");
}

TEST_F(AuthServiceTest, TokenEndpointAllowsTenRequestsAMinutePerClient) {
    const PartnerCredential c = new_partner();
    for (int i = 0; i < 10; ++i) {
        auto r = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
        ASSERT_TRUE(r) << i << ": " << r.error().message;
        clock_.advance(seconds{1});
    }
    auto limited = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
    ASSERT_FALSE(limited);
    expect_error(limited.error(), ErrorKind::rate_limited, "rate_limited");
    EXPECT_NE(limited.error().message.find("client_id"), std::string::npos);
    ASSERT_TRUE(limited.error().retry_after_seconds);
    EXPECT_EQ(*limited.error().retry_after_seconds, 50);
    // The same client from another address is the same client.
    EXPECT_FALSE(service_->issue_partner_token(c.client_id, c.secret_key, kStranger));

    clock_.advance(seconds{60});
    EXPECT_TRUE(service_->issue_partner_token(c.client_id, c.secret_key, kHere));
}

TEST_F(AuthServiceTest, StrangersGuessingSecretsCannotLockThePartnerOut) {
    const PartnerCredential victim = new_partner();
    for (int i = 0; i < 60; ++i) {
        auto r = service_->issue_partner_token(victim.client_id, "sk_guess", kStranger);
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().code, "invalid_client") << i;
    }
    // The stranger's address has used up its allowance...
    auto guess = service_->issue_partner_token(victim.client_id, "sk_guess", kStranger);
    ASSERT_FALSE(guess);
    EXPECT_EQ(guess.error().code, "rate_limited");
    EXPECT_NE(guess.error().message.find("address"), std::string::npos);
    // ...and the partner, elsewhere, has all of its own.
    for (int i = 0; i < 10; ++i) {
        auto r = service_->issue_partner_token(victim.client_id, victim.secret_key, kHere);
        ASSERT_TRUE(r) << i << ": " << r.error().message;
    }
}

TEST_F(AuthServiceTest, MadeUpClientIdsShareTheirAddresssLimit) {
    const PartnerCredential real = new_partner();
    // Random well-formed ids and ids this service never mints (NUL bytes included) are
    // refused like unknown ones...
    for (int i = 0; i < 60; ++i) {
        const std::string id =
            i % 2 == 0 ? core::new_id("pc_") : std::string("pc_") + '\0' + std::to_string(i);
        auto r = service_->issue_partner_token(id, "sk_guess", kStranger);
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().code, "invalid_client") << r.error().message;
    }
    // ...and cannot dodge the limit by changing the id each time.
    auto limited = service_->issue_partner_token(core::new_id("pc_"), "sk_guess", kStranger);
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error().code, "rate_limited");
    EXPECT_TRUE(service_->issue_partner_token(real.client_id, real.secret_key, kHere));
}

TEST_F(AuthServiceTest, RefreshRefusedForItsRateKeepsItsToken) {
    const PartnerCredential c = new_partner();
    const PartnerTokens t = tokens_for(c);  // one of the ten
    for (int i = 0; i < 9; ++i)
        ASSERT_TRUE(service_->issue_partner_token(c.client_id, c.secret_key, kHere));
    auto limited = service_->refresh(t.refresh_token, kHere);
    ASSERT_FALSE(limited);
    expect_error(limited.error(), ErrorKind::rate_limited, "rate_limited");
    EXPECT_TRUE(limited.error().retry_after_seconds);

    // Refused before it was spent: once the window has passed, it still works.
    clock_.advance(seconds{60});
    EXPECT_TRUE(service_->refresh(t.refresh_token, kHere));

    const PartnerCredential other = new_partner();
    EXPECT_TRUE(service_->refresh(tokens_for(other).refresh_token, kHere));
}

TEST_F(AuthServiceTest, RefreshIsLimitedPerAddressBeforeTheTokenIsLookedAt) {
    const PartnerCredential c = new_partner();
    const PartnerTokens t = tokens_for(c);
    for (int i = 0; i < 60; ++i) {
        auto r = service_->refresh("not-a-token-" + std::to_string(i), kStranger);
        ASSERT_FALSE(r);
        ASSERT_EQ(r.error().code, "invalid_refresh_token");
    }
    auto limited = service_->refresh(t.refresh_token, kStranger);
    ASSERT_FALSE(limited);
    EXPECT_EQ(limited.error().code, "rate_limited");
    EXPECT_TRUE(service_->refresh(t.refresh_token, kHere));
}

TEST_F(AuthServiceTest, RevokedTokensAreRefusedAndNewOnesWork) {
    const PartnerCredential c = new_partner();
    const PartnerTokens before = tokens_for(c);
    auto partner = service_->authenticate(before.access_token);
    ASSERT_TRUE(partner) << partner.error().message;
    auto user = service_->issue_user_token(*partner, "user-000001", std::nullopt);
    ASSERT_TRUE(user) << user.error().message;
    const PartnerCredential other = new_partner();
    const PartnerTokens others = tokens_for(other);

    ASSERT_TRUE(service_->revoke_tokens(c.client_id));
    for (const std::string& token : {before.access_token, user->access_token}) {
        auto refused = service_->authenticate(token);
        ASSERT_FALSE(refused);
        expect_error(refused.error(), ErrorKind::unauthenticated, "token_revoked");
    }
    auto refresh = service_->refresh(before.refresh_token, kHere);
    ASSERT_FALSE(refresh);
    expect_error(refresh.error(), ErrorKind::unauthenticated, "invalid_refresh_token");
    // Another partner's tokens are untouched.
    EXPECT_TRUE(service_->authenticate(others.access_token));

    // The partner asks again, and everything issued from now on works.
    const PartnerTokens after = tokens_for(c);
    partner = service_->authenticate(after.access_token);
    ASSERT_TRUE(partner) << partner.error().message;
    EXPECT_EQ(partner->token_generation, 1);
    user = service_->issue_user_token(*partner, "user-000001", std::nullopt);
    ASSERT_TRUE(user);
    EXPECT_TRUE(service_->authenticate(user->access_token));
    EXPECT_TRUE(service_->refresh(after.refresh_token, kHere));
}

TEST_F(AuthServiceTest, AnotherReplicaRefusesRevokedTokensFromItsNextSync) {
    AuthService replica(*store_, clock_, std::string(kKey), options_for("us"));
    const PartnerCredential c = new_partner();
    const PartnerTokens tokens = tokens_for(c);
    ASSERT_TRUE(service_->revoke_tokens(c.client_id));
    // Verifying never waits on the store, so the replica knows only at its sync.
    EXPECT_TRUE(replica.authenticate(tokens.access_token));
    ASSERT_TRUE(replica.sync());
    auto refused = replica.authenticate(tokens.access_token);
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::unauthenticated, "token_revoked");
    // Tokens issued after the revocation work there, synced or not.
    EXPECT_TRUE(replica.authenticate(tokens_for(c).access_token));
}

TEST_F(AuthServiceTest, ARefreshTokenIssuedAsTheTokensWereRevokedIsRefused) {
    const PartnerCredential c = new_partner();
    ASSERT_TRUE(service_->revoke_tokens(c.client_id));
    // A token request that read the partner before the revocation stores its refresh
    // token after it: its generation is the old one.
    const std::string late = "rt_issued_during_the_revocation";
    ASSERT_TRUE(store_->add_refresh_token(
        metadata::RefreshToken{core::to_hex(core::sha256(late)), c.client_id,
                               clock_.now() + seconds{3600}, /*token_generation=*/0}));
    auto refused = service_->refresh(late, kHere);
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::unauthenticated, "invalid_refresh_token");
}

TEST_F(AuthServiceTest, RevokingAnUnknownPartnerIsNotFound) {
    auto refused = service_->revoke_tokens("pc_unknown");
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::not_found, "partner_not_found");
}

TEST_F(AuthServiceTest, ADisabledPartnerGetsNoTokensAndItsOwnAreRevokedUntilEnabled) {
    const PartnerCredential c = new_partner();
    const PartnerTokens before = tokens_for(c);
    auto user = service_->issue_user_token(partner_principal(c), "user-000001", std::nullopt);
    ASSERT_TRUE(user) << user.error().message;

    ASSERT_TRUE(service_->disable_partner(c.client_id));
    for (const std::string& token : {before.access_token, user->access_token}) {
        auto refused = service_->authenticate(token);
        ASSERT_FALSE(refused);
        expect_error(refused.error(), ErrorKind::unauthenticated, "token_revoked");
    }
    auto issued = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
    ASSERT_FALSE(issued);
    expect_error(issued.error(), ErrorKind::unauthenticated, "partner_disabled");
    // A wrong secret learns nothing of it.
    issued = service_->issue_partner_token(c.client_id, "sk_wrong", kHere);
    ASSERT_FALSE(issued);
    expect_error(issued.error(), ErrorKind::unauthenticated, "invalid_client");
    auto refresh = service_->refresh(before.refresh_token, kHere);
    ASSERT_FALSE(refresh);
    expect_error(refresh.error(), ErrorKind::unauthenticated, "invalid_refresh_token");

    ASSERT_TRUE(service_->enable_partner(c.client_id));
    EXPECT_FALSE(service_->authenticate(before.access_token));  // revoked for good
    const PartnerTokens after = tokens_for(c);
    EXPECT_TRUE(service_->authenticate(after.access_token));
    EXPECT_TRUE(service_->refresh(after.refresh_token, kHere));
}

TEST_F(AuthServiceTest, ARefreshTokenOfAPartnerDisabledMeanwhileIsRefused) {
    const PartnerCredential c = new_partner();
    const PartnerTokens tokens = tokens_for(c);
    // As a refresh that read its token just before the partner was disabled would see.
    ASSERT_TRUE(service_->disable_partner(c.client_id));
    ASSERT_TRUE(store_->add_refresh_token(
        {core::to_hex(core::sha256("rt_late")), c.client_id, clock_.now() + seconds{3600}, 1}));
    auto refresh = service_->refresh("rt_late", kHere);
    ASSERT_FALSE(refresh);
    expect_error(refresh.error(), ErrorKind::unauthenticated, "partner_disabled");
    EXPECT_FALSE(tokens.access_token.empty());
}

TEST_F(AuthServiceTest, ARotatedSecretReplacesTheOldAtOnceAndRevokesTokens) {
    const PartnerCredential c = new_partner();
    const PartnerTokens before = tokens_for(c);
    auto rotated = service_->rotate_secret(c.client_id);
    ASSERT_TRUE(rotated) << rotated.error().message;
    EXPECT_EQ(rotated->client_id, c.client_id);
    EXPECT_TRUE(rotated->secret_key.starts_with("sk_"));
    EXPECT_NE(rotated->secret_key, c.secret_key);

    auto old = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
    ASSERT_FALSE(old);
    expect_error(old.error(), ErrorKind::unauthenticated, "invalid_client");
    auto refused = service_->authenticate(before.access_token);
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::unauthenticated, "token_revoked");
    EXPECT_TRUE(service_->authenticate(tokens_for(*rotated).access_token));
}

TEST_F(AuthServiceTest, ADeletedPartnersTokensAreRefusedOnEveryReplica) {
    AuthService replica(*store_, clock_, std::string(kKey), options_for("us"));
    const PartnerCredential c = new_partner();
    const PartnerTokens tokens = tokens_for(c);
    auto deleted = service_->delete_partner(c.client_id, false);
    ASSERT_TRUE(deleted) << deleted.error().message;
    ASSERT_TRUE(replica.sync());
    for (const AuthService* service : {service_.get(), &replica}) {
        auto refused = service->authenticate(tokens.access_token);
        ASSERT_FALSE(refused);
        expect_error(refused.error(), ErrorKind::unauthenticated, "token_revoked");
    }
    auto issued = service_->issue_partner_token(c.client_id, c.secret_key, kHere);
    ASSERT_FALSE(issued);
    expect_error(issued.error(), ErrorKind::unauthenticated, "invalid_client");
}

TEST_F(AuthServiceTest, AdministeringAnUnknownPartnerIsNotFound) {
    expect_error(service_->disable_partner("pc_unknown").error(), ErrorKind::not_found,
                 "partner_not_found");
    expect_error(service_->enable_partner("pc_unknown").error(), ErrorKind::not_found,
                 "partner_not_found");
    expect_error(service_->rotate_secret("pc_unknown").error(), ErrorKind::not_found,
                 "partner_not_found");
    expect_error(service_->delete_partner("pc_unknown", true).error(), ErrorKind::not_found,
                 "partner_not_found");
}

TEST_F(AuthServiceTest, EachPartnerHasSoManyApiRequestsAMinute) {
    AuthOptions options = options_for("us");
    options.partner_requests_per_minute = 3;
    AuthService limited(*store_, clock_, std::string(kKey), options);
    const Principal partner{TokenKind::partner, "us", "pc_busy", "", clock_.now()};
    const Principal user{TokenKind::user, "us", "pc_busy", "user-000001", clock_.now()};
    const Principal other{TokenKind::user, "us", "pc_other", "user-000001", clock_.now()};
    // The partner's own token and its users' tokens draw on one allowance.
    EXPECT_TRUE(limited.admit_request(partner));
    EXPECT_TRUE(limited.admit_request(user));
    EXPECT_TRUE(limited.admit_request(user));
    auto refused = limited.admit_request(partner);
    ASSERT_FALSE(refused);
    expect_error(refused.error(), ErrorKind::rate_limited, "partner_rate_limited");
    ASSERT_TRUE(refused.error().retry_after_seconds);
    EXPECT_EQ(*refused.error().retry_after_seconds, 60);
    EXPECT_TRUE(limited.admit_request(other));
    clock_.advance(seconds{60});
    EXPECT_TRUE(limited.admit_request(user));

    options.partner_requests_per_minute = 0;
    AuthService unlimited(*store_, clock_, std::string(kKey), options);
    for (int i = 0; i < 1000; ++i) ASSERT_TRUE(unlimited.admit_request(user));
}

}  // namespace
}  // namespace audiodrop::auth
