#include "auth/access_token.hpp"

#include <array>
#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>

#include "core/hashing.hpp"

namespace audiodrop::auth {
namespace {

using nlohmann::json;

constexpr std::string_view kIssuer = "audiodrop";
constexpr std::string_view kHeader = R"({"alg":"HS256","typ":"JWT"})";
// Bounds iat/exp so converting them to a nanosecond time_point cannot overflow.
constexpr std::int64_t kMaxUnixSeconds = 4102444800;  // 2100-01-01
constexpr std::size_t kJtiBytes = 16;

core::Error invalid_token() {
    return core::make_error(core::ErrorKind::unauthenticated, "invalid_token",
                            "the access token is malformed or its signature is invalid; "
                            "request a new token");
}

std::string sign(std::string_view signing_input, std::string_view key) {
    const core::Sha256Digest mac = core::hmac_sha256(key, signing_input);
    return core::base64url_encode(
        std::string_view(reinterpret_cast<const char*>(mac.data()), mac.size()));
}

// Decodes one segment, accepting only the canonical unpadded base64url form, so that
// exactly one spelling of each token verifies.
std::optional<std::string> decode_segment(std::string_view segment) {
    if (segment.empty()) return std::nullopt;
    for (char c : segment) {
        const bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
                        (c >= '0' && c <= '9') || c == '-' || c == '_';
        if (!ok) return std::nullopt;
    }
    std::string out;
    if (!core::base64url_decode(segment, out) || core::base64url_encode(out) != segment) {
        return std::nullopt;
    }
    return out;
}

struct Segments {
    std::string_view header;
    std::string_view payload;
    std::string_view signature;
};

std::optional<Segments> split(std::string_view token) {
    if (token.size() > kMaxAccessTokenBytes) return std::nullopt;
    const auto first = token.find('.');
    if (first == std::string_view::npos) return std::nullopt;
    const auto second = token.find('.', first + 1);
    if (second == std::string_view::npos) return std::nullopt;
    if (token.find('.', second + 1) != std::string_view::npos) return std::nullopt;
    return Segments{token.substr(0, first), token.substr(first + 1, second - first - 1),
                    token.substr(second + 1)};
}

// Parses a segment that must decode to a JSON object; discarded on any failure.
json parse_object(std::string_view segment) {
    const auto text = decode_segment(segment);
    if (!text) return json(json::value_t::discarded);
    json j = json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return json(json::value_t::discarded);
    return j;
}

const std::string* string_claim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end() || !it->is_string()) return nullptr;
    return it->get_ptr<const std::string*>();
}

// A non-negative integer claim no larger than any unix time we accept.
std::optional<std::int64_t> integer_claim(const json& claims, const char* name) {
    const auto it = claims.find(name);
    if (it == claims.end()) return std::nullopt;
    std::int64_t value = 0;
    if (it->is_number_unsigned()) {
        const auto u = it->get<std::uint64_t>();
        if (u > static_cast<std::uint64_t>(kMaxUnixSeconds)) return std::nullopt;
        value = static_cast<std::int64_t>(u);
    } else if (it->is_number_integer()) {
        value = it->get<std::int64_t>();
    } else {
        return std::nullopt;
    }
    if (value < 0 || value > kMaxUnixSeconds) return std::nullopt;
    return value;
}

bool header_is_hs256(const json& header) {
    const auto* alg = string_claim(header, "alg");
    if (alg == nullptr || *alg != "HS256") return false;
    // "typ" is optional in RFC 7519 but, when present, must name a JWT.
    if (header.contains("typ")) {
        const auto* typ = string_claim(header, "typ");
        if (typ == nullptr || *typ != "JWT") return false;
    }
    // RFC 7515 §4.1.11: extensions we do not understand must be refused.
    return !header.contains("crit");
}

}  // namespace

std::string encode_access_token(const Principal& principal, core::TimePoint issued_at,
                                std::string_view key) {
    json claims = {
        {"iss", kIssuer},
        {"typ", principal.kind == TokenKind::partner ? "partner" : "user"},
        {"region", principal.region},
        {"sub", principal.client_id},
        {"iat", core::to_unix(issued_at)},
        {"exp", core::to_unix(principal.expires_at)},
        {"jti", core::base64url_encode(core::random_bytes(kJtiBytes))},
        {"gen", principal.token_generation},
    };
    if (principal.kind == TokenKind::user) claims["uid"] = principal.user_id;
    // Replacing invalid UTF-8 instead of throwing: callers validate what they put in.
    const std::string payload = claims.dump(-1, ' ', false, json::error_handler_t::replace);
    std::string token = core::base64url_encode(kHeader);
    token += '.';
    token += core::base64url_encode(payload);
    const std::string signature = sign(token, key);
    token += '.';
    token += signature;
    return token;
}

core::Result<Principal> verify_access_token(std::string_view token, std::string_view key,
                                            core::TimePoint now) {
    const auto segments = split(token);
    if (!segments) return invalid_token();
    const json header = parse_object(segments->header);
    if (header.is_discarded() || !header_is_hs256(header)) return invalid_token();

    const std::string_view signing_input =
        token.substr(0, segments->header.size() + 1 + segments->payload.size());
    // Comparing the canonical encodings also refuses alternative spellings of the MAC.
    if (!core::constant_time_equal(sign(signing_input, key), segments->signature)) {
        return invalid_token();
    }

    const json claims = parse_object(segments->payload);
    if (claims.is_discarded()) return invalid_token();
    const auto* iss = string_claim(claims, "iss");
    const auto* typ = string_claim(claims, "typ");
    const auto* region = string_claim(claims, "region");
    const auto* sub = string_claim(claims, "sub");
    const auto* jti = string_claim(claims, "jti");
    const auto iat = integer_claim(claims, "iat");
    const auto exp = integer_claim(claims, "exp");
    // Tokens signed before generations existed have none: the first generation.
    const auto gen =
        claims.contains("gen") ? integer_claim(claims, "gen") : std::optional<std::int64_t>(0);
    if (!gen) return invalid_token();
    if (iss == nullptr || *iss != kIssuer || typ == nullptr || region == nullptr ||
        region->empty() || sub == nullptr || sub->empty() || jti == nullptr || !iat || !exp ||
        *exp < *iat) {
        return invalid_token();
    }

    Principal principal;
    principal.region = *region;
    principal.client_id = *sub;
    principal.expires_at = core::from_unix(*exp);
    principal.token_generation = *gen;
    if (*typ == "partner") {
        if (claims.contains("uid")) return invalid_token();
        principal.kind = TokenKind::partner;
    } else if (*typ == "user") {
        const auto* uid = string_claim(claims, "uid");
        if (uid == nullptr || uid->empty()) return invalid_token();
        principal.kind = TokenKind::user;
        principal.user_id = *uid;
    } else {
        return invalid_token();
    }

    if (principal.expires_at <= now) {
        return core::make_error(core::ErrorKind::unauthenticated, "token_expired",
                                "the access token has expired; request a new one");
    }
    return principal;
}

std::string peek_token_region(std::string_view token) {
    const auto segments = split(token);
    if (!segments) return {};
    const json claims = parse_object(segments->payload);
    if (claims.is_discarded()) return {};
    const auto* region = string_claim(claims, "region");
    return region == nullptr ? std::string() : *region;
}

}  // namespace audiodrop::auth
