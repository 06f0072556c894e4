#include "auth/access_token.hpp"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "core/hashing.hpp"

namespace audiodrop::auth {
namespace {

using nlohmann::json;
using std::chrono::seconds;

constexpr std::string_view kKey = "0123456789abcdef0123456789abcdef";
const core::TimePoint kNow = core::from_unix(1'700'000'000);

Principal partner_principal() {
    return Principal{.kind = TokenKind::partner,
                     .region = "us",
                     .client_id = "pc_example",
                     .user_id = {},
                     .expires_at = kNow + seconds{7200}};
}

Principal user_principal() {
    return Principal{.kind = TokenKind::user,
                     .region = "eu",
                     .client_id = "pc_example",
                     .user_id = "user-42",
                     .expires_at = kNow + seconds{600}};
}

std::string b64url(std::string_view s) { return core::base64url_encode(s); }

// Builds a token from raw header and claims text, signed correctly with `key`, so tests
// can check what verification does with well-signed but unacceptable contents.
std::string signed_token(std::string_view header, std::string_view claims,
                         std::string_view key = kKey) {
    const std::string input = b64url(header) + "." + b64url(claims);
    const auto mac = core::hmac_sha256(key, input);
    return input + "." + b64url(std::string_view(reinterpret_cast<const char*>(mac.data()), 32));
}

json valid_claims() {
    return {{"iss", "audiodrop"},
            {"typ", "user"},
            {"region", "us"},
            {"sub", "pc_example"},
            {"uid", "user-42"},
            {"iat", core::to_unix(kNow)},
            {"exp", core::to_unix(kNow) + 600},
            {"jti", "abc"}};
}

constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";

std::vector<std::string> split(const std::string& token) {
    std::vector<std::string> parts;
    std::size_t start = 0;
    for (std::size_t dot; (dot = token.find('.', start)) != std::string::npos; start = dot + 1) {
        parts.push_back(token.substr(start, dot - start));
    }
    parts.push_back(token.substr(start));
    return parts;
}

void expect_invalid(const std::string& token, std::string_view key = kKey) {
    const auto r = verify_access_token(token, key, kNow);
    ASSERT_FALSE(r) << token;
    EXPECT_EQ(r.error().kind, core::ErrorKind::unauthenticated);
    EXPECT_EQ(r.error().code, "invalid_token") << token;
}

TEST(AccessToken, PartnerTokenRoundTrips) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    const auto r = verify_access_token(token, kKey, kNow);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->kind, TokenKind::partner);
    EXPECT_EQ(r->region, "us");
    EXPECT_EQ(r->client_id, "pc_example");
    EXPECT_EQ(r->user_id, "");
    EXPECT_EQ(r->expires_at, kNow + seconds{7200});
}

TEST(AccessToken, UserTokenRoundTrips) {
    const std::string token = encode_access_token(user_principal(), kNow, kKey);
    const auto r = verify_access_token(token, kKey, kNow + seconds{599});
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->kind, TokenKind::user);
    EXPECT_EQ(r->region, "eu");
    EXPECT_EQ(r->client_id, "pc_example");
    EXPECT_EQ(r->user_id, "user-42");
    EXPECT_EQ(r->expires_at, kNow + seconds{600});
}

TEST(AccessToken, IsAStandardHs256JwtWithTheDocumentedClaims) {
    const std::string token = encode_access_token(user_principal(), kNow, kKey);
    const auto parts = split(token);
    ASSERT_EQ(parts.size(), 3u);
    std::string header, claims;
    ASSERT_TRUE(core::base64url_decode(parts[0], header));
    ASSERT_TRUE(core::base64url_decode(parts[1], claims));
    EXPECT_EQ(json::parse(header), json::parse(kHeader));
    const json c = json::parse(claims);
    EXPECT_EQ(c.at("iss"), "audiodrop");
    EXPECT_EQ(c.at("typ"), "user");
    EXPECT_EQ(c.at("region"), "eu");
    EXPECT_EQ(c.at("sub"), "pc_example");
    EXPECT_EQ(c.at("uid"), "user-42");
    EXPECT_EQ(c.at("iat"), core::to_unix(kNow));
    EXPECT_EQ(c.at("exp"), core::to_unix(kNow) + 600);
    EXPECT_FALSE(c.at("jti").get<std::string>().empty());
    EXPECT_EQ(c.at("gen"), 0);
    // The signature is what any JWT library computes.
    EXPECT_EQ(token, signed_token(header, claims));

    const json p = json::parse([&] {
        std::string out;
        core::base64url_decode(split(encode_access_token(partner_principal(), kNow, kKey))[1], out);
        return out;
    }());
    EXPECT_EQ(p.at("typ"), "partner");
    EXPECT_FALSE(p.contains("uid"));
}

TEST(AccessToken, CarriesThePartnersTokenGeneration) {
    Principal p = user_principal();
    p.token_generation = 7;
    const auto r = verify_access_token(encode_access_token(p, kNow, kKey), kKey, kNow);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->token_generation, 7);
}

TEST(AccessToken, ATokenWithoutAGenerationIsOfTheFirst) {
    // What builds before token generations signed.
    const auto r = verify_access_token(signed_token(kHeader, valid_claims().dump()), kKey, kNow);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->token_generation, 0);
}

TEST(AccessToken, TheLongestUserIdTheServiceTakesFitsInAToken) {
    Principal p = user_principal();
    p.user_id.clear();
    for (int i = 0; i < 120; ++i) p.user_id += "\xf4\x8f\xbf\xbf";  // U+10FFFF, 4 bytes each
    const std::string token = encode_access_token(p, kNow, kKey);
    EXPECT_LT(token.size(), kMaxAccessTokenBytes / 4);
    const auto r = verify_access_token(token, kKey, kNow);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->user_id, p.user_id);
}

TEST(AccessToken, AWellSignedTokenPastTheSizeLimitIsRefused) {
    // Found by fuzzing: a region of 1,100 control characters, each escaped to six
    // bytes, signs into a token over the limit. The service never signs one.
    Principal p = partner_principal();
    p.region = std::string(1100, '\x0e');
    const std::string token = encode_access_token(p, kNow, kKey);
    EXPECT_GT(token.size(), kMaxAccessTokenBytes);
    expect_invalid(token);
}

TEST(AccessToken, EveryTokenHasItsOwnId) {
    EXPECT_NE(encode_access_token(partner_principal(), kNow, kKey),
              encode_access_token(partner_principal(), kNow, kKey));
}

TEST(AccessToken, WellSignedHandBuiltTokenVerifies) {
    const auto r = verify_access_token(signed_token(kHeader, valid_claims().dump()), kKey, kNow);
    ASSERT_TRUE(r) << r.error().message;
    EXPECT_EQ(r->user_id, "user-42");
    // "typ" in the header is optional.
    EXPECT_TRUE(
        verify_access_token(signed_token(R"({"alg":"HS256"})", valid_claims().dump()), kKey, kNow));
}

TEST(AccessToken, TamperedPayloadIsRefused) {
    const auto parts = split(encode_access_token(user_principal(), kNow, kKey));
    json claims = valid_claims();
    claims["uid"] = "someone-else";
    expect_invalid(parts[0] + "." + b64url(claims.dump()) + "." + parts[2]);
}

TEST(AccessToken, TamperedSignatureIsRefused) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    std::string flipped = token;
    flipped[token.size() - 10] = flipped[token.size() - 10] == 'A' ? 'B' : 'A';
    expect_invalid(flipped);
    expect_invalid(token.substr(0, token.size() - 1));
    expect_invalid(token + "A");
    // The last character of a 32-byte MAC carries 2 unused bits; another spelling of
    // the same bytes is still refused.
    std::string respelled = token;
    std::string mac;
    ASSERT_TRUE(core::base64url_decode(split(token)[2], mac));
    const std::string alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    respelled.back() = alphabet[alphabet.find(token.back()) ^ 1];
    std::string decoded;
    ASSERT_TRUE(core::base64url_decode(split(respelled)[2], decoded));
    EXPECT_EQ(decoded, mac);
    expect_invalid(respelled);
}

TEST(AccessToken, TamperedHeaderIsRefused) {
    const auto parts = split(encode_access_token(partner_principal(), kNow, kKey));
    expect_invalid(b64url(R"({"alg":"HS256","typ":"JWT","kid":"x"})") + "." + parts[1] + "." +
                   parts[2]);
    expect_invalid(b64url(R"({"typ":"JWT","alg":"HS256"})") + "." + parts[1] + "." + parts[2]);
}

TEST(AccessToken, AlgNoneAndOtherAlgorithmsAreRefused) {
    const std::string claims = valid_claims().dump();
    expect_invalid(b64url(R"({"alg":"none","typ":"JWT"})") + "." + b64url(claims) + ".");
    // Even when the MAC over them is right, only HS256 headers are accepted.
    expect_invalid(signed_token(R"({"alg":"none","typ":"JWT"})", claims));
    expect_invalid(signed_token(R"({"alg":"HS512","typ":"JWT"})", claims));
    expect_invalid(signed_token(R"({"alg":"RS256","typ":"JWT"})", claims));
    expect_invalid(signed_token(R"({"alg":"hs256","typ":"JWT"})", claims));
    expect_invalid(signed_token(R"({"typ":"JWT"})", claims));
    expect_invalid(signed_token(R"({"alg":["HS256"]})", claims));
    expect_invalid(signed_token(R"({"alg":"HS256","typ":"JWE"})", claims));
    expect_invalid(signed_token(R"({"alg":"HS256","crit":["exp"]})", claims));
}

TEST(AccessToken, WrongKeyIsRefused) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    expect_invalid(token, "another key of the same length!!");
    expect_invalid(token, "");
}

TEST(AccessToken, ExpiresAtExp) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    EXPECT_TRUE(verify_access_token(token, kKey, kNow + seconds{7199}));
    for (auto later : {seconds{7200}, seconds{7201}, seconds{365 * 86400}}) {
        const auto r = verify_access_token(token, kKey, kNow + later);
        ASSERT_FALSE(r);
        EXPECT_EQ(r.error().kind, core::ErrorKind::unauthenticated);
        EXPECT_EQ(r.error().code, "token_expired");
    }
}

TEST(AccessToken, ExpiredButForgedIsInvalidNotExpired) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    const auto r = verify_access_token(token, "wrong", kNow + seconds{9000});
    ASSERT_FALSE(r);
    EXPECT_EQ(r.error().code, "invalid_token");
}

TEST(AccessToken, MalformedSegmentsAreRefused) {
    const std::string token = encode_access_token(partner_principal(), kNow, kKey);
    const auto p = split(token);
    for (const std::string& bad : std::vector<std::string>{
             "",
             ".",
             "..",
             "...",
             "abc",
             p[0] + "." + p[1],
             p[0] + "." + p[1] + "." + p[2] + ".",
             token + "." + p[2],
             "." + p[1] + "." + p[2],
             p[0] + ".." + p[2],
             p[0] + "=." + p[1] + "." + p[2],
             p[0] + "." + p[1] + "." + p[2] + "=",
             p[0] + " ." + p[1] + "." + p[2],
             " " + token,
             token + "\n",
             std::string(10000, 'a') + "." + p[1] + "." + p[2],
         }) {
        expect_invalid(bad);
    }
    // Standard base64 characters are not base64url.
    std::string plus = token;
    plus[p[0].size() + 3] = '+';
    expect_invalid(plus);
}

TEST(AccessToken, SegmentsThatAreNotJsonObjectsAreRefused) {
    const std::string claims = valid_claims().dump();
    expect_invalid(signed_token("not json", claims));
    expect_invalid(signed_token(R"(["HS256"])", claims));
    expect_invalid(signed_token(kHeader, "not json"));
    expect_invalid(signed_token(kHeader, "[1,2,3]"));
    expect_invalid(signed_token(kHeader, "\"a string\""));
    expect_invalid(signed_token(kHeader, claims + "x"));
    expect_invalid(signed_token(kHeader, "{\"iss\":\"\xff\xfe\"}"));
    expect_invalid(signed_token(kHeader, std::string(4000, '[')));
}

TEST(AccessToken, ClaimsOfTheWrongTypeOrValueAreRefused) {
    auto with = [](const char* name, json value) {
        json c = valid_claims();
        c[name] = std::move(value);
        return signed_token(kHeader, c.dump());
    };
    auto without = [](const char* name) {
        json c = valid_claims();
        c.erase(name);
        return signed_token(kHeader, c.dump());
    };
    for (const char* name : {"iss", "typ", "region", "sub", "uid", "iat", "exp", "jti"}) {
        expect_invalid(without(name));
        expect_invalid(with(name, nullptr));
        expect_invalid(with(name, json::array()));
        expect_invalid(with(name, json::object()));
    }
    for (const char* name : {"iss", "typ", "region", "sub", "uid", "jti"}) {
        expect_invalid(with(name, 42));
        expect_invalid(with(name, true));
    }
    for (const char* name : {"iat", "exp", "gen"}) {
        expect_invalid(with(name, nullptr));
        expect_invalid(with(name, std::to_string(core::to_unix(kNow) + 600)));
        expect_invalid(with(name, 1.7e9 + 600.5));
        expect_invalid(with(name, -1));
        expect_invalid(with(name, 18446744073709551615ULL));
        expect_invalid(with(name, true));
    }
    expect_invalid(with("iss", "someone-else"));
    expect_invalid(with("typ", "admin"));
    expect_invalid(with("typ", "partner"));  // a partner token never carries a uid
    expect_invalid(with("region", ""));
    expect_invalid(with("sub", ""));
    expect_invalid(with("uid", ""));
    expect_invalid(with("iat", core::to_unix(kNow) + 601));  // issued after it expires
    expect_invalid(with("exp", 99'999'999'999LL));           // beyond any sane time
}

TEST(AccessToken, PeekReadsTheRegionWithoutTrustingIt) {
    const std::string token = encode_access_token(user_principal(), kNow, "another region's key");
    EXPECT_EQ(peek_token_region(token), "eu");
    EXPECT_FALSE(verify_access_token(token, kKey, kNow));
    EXPECT_EQ(peek_token_region("garbage"), "");
    EXPECT_EQ(peek_token_region(signed_token(kHeader, R"({"region":7})")), "");
}

}  // namespace
}  // namespace audiodrop::auth
