// The Authentication API's three calls (DESIGN §2).

#include <algorithm>

#include "core/hashing.hpp"
#include "http/api_handler.hpp"
#include "http/json_fields.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using core::make_error;

// A refresh body is one token of a few dozen characters: nothing bigger is read.
constexpr std::size_t kMaxRefreshBodyBytes = 4096;

struct BasicCredentials {
    std::string client_id;
    std::string secret_key;
};

core::Result<BasicCredentials> basic_credentials(const RequestHeader& req) {
    const auto invalid = make_error(ErrorKind::unauthenticated, "invalid_client",
                                    "send Authorization: Basic base64(client_id:secret_key)");
    const auto it = req.find(bhttp::field::authorization);
    if (it == req.end()) return invalid;
    const std::string_view value = it->value();
    constexpr std::string_view kScheme = "basic ";
    if (value.size() <= kScheme.size() ||
        !beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
        return invalid;
    }
    std::string decoded;
    if (!core::base64_decode(value.substr(kScheme.size()), decoded)) return invalid;
    const auto colon = decoded.find(':');
    if (colon == std::string::npos || colon == 0) return invalid;
    return BasicCredentials{decoded.substr(0, colon), decoded.substr(colon + 1)};
}

// refresh_token from a form body (as OAuth clients send it) or a JSON object.
core::Result<std::string> refresh_token_field(const RequestHeader& req, const std::string& body) {
    const auto missing = make_error(ErrorKind::invalid_input, "invalid_request",
                                    "send the refresh token as a form field refresh_token=...");
    const auto type = req.find(bhttp::field::content_type);
    if (type != req.end() && type->value().starts_with("application/json")) {
        AUDIODROP_TRY_ASSIGN(auto json, parse_json_object(body));
        return required_string(json, "refresh_token");
    }
    std::string form = body;
    std::replace(form.begin(), form.end(), '+', ' ');  // form encoding's space
    s3::QueryParams fields;
    if (!s3::parse_query(form, fields)) return missing;
    for (auto& [name, value] : fields) {
        if (name == "refresh_token" && !value.empty()) return std::move(value);
    }
    return missing;
}

nlohmann::ordered_json pair_json(const auth::PartnerTokens& t) {
    return {{"access_token", t.access_token},
            {"refresh_token", t.refresh_token},
            {"token_type", "bearer"},
            {"expires_in", t.expires_in}};
}

}  // namespace

asio::awaitable<void> ApiHandler::partner_token(Exchange& ex) {
    co_await respond(
        ex, co_await [&]() -> asio::awaitable<core::Result<nlohmann::ordered_json>> {
            AUDIODROP_CO_TRY_ASSIGN(auto creds, basic_credentials(ex.request()));
            co_return co_await offload(
                pools_.argon2, ex.request_id(), [&]() -> core::Result<nlohmann::ordered_json> {
                    AUDIODROP_TRY_ASSIGN(
                        auto tokens, auth_.issue_partner_token(creds.client_id, creds.secret_key,
                                                               ex.client_address()));
                    return pair_json(tokens);
                });
        }());
}

asio::awaitable<void> ApiHandler::refresh_token(Exchange& ex) {
    co_await respond(
        ex, co_await [&]() -> asio::awaitable<core::Result<nlohmann::ordered_json>> {
            AUDIODROP_CO_TRY_ASSIGN(auto text, co_await ex.read_body(kMaxRefreshBodyBytes));
            co_return co_await offload(
                pools_.metadata, ex.request_id(), [&]() -> core::Result<nlohmann::ordered_json> {
                    AUDIODROP_TRY_ASSIGN(auto token, refresh_token_field(ex.request(), text));
                    AUDIODROP_TRY_ASSIGN(auto tokens, auth_.refresh(token, ex.client_address()));
                    return pair_json(tokens);
                });
        }());
}

// Signing a token is a few microseconds of HMAC: it stays on the network thread.
asio::awaitable<void> ApiHandler::user_token(Exchange& ex) {
    co_await respond(
        ex, co_await [&]() -> asio::awaitable<core::Result<nlohmann::ordered_json>> {
            AUDIODROP_CO_TRY_ASSIGN(auto partner, bearer(ex));
            AUDIODROP_CO_TRY_ASSIGN(auto text, co_await body(ex));
            AUDIODROP_CO_TRY_ASSIGN(auto json, parse_json_object(text));
            AUDIODROP_CO_TRY_ASSIGN(auto user_id, required_string(json, "user_id"));
            AUDIODROP_CO_TRY_ASSIGN(auto expires_in,
                                    optional_integer(json, "expires_in", "invalid_expires_in"));
            AUDIODROP_CO_TRY_ASSIGN(auto token,
                                    auth_.issue_user_token(partner, user_id, expires_in));
            co_return nlohmann::ordered_json{{"access_token", token.access_token},
                                             {"token_type", "bearer"},
                                             {"expires_in", token.expires_in}};
        }());
}

}  // namespace audiodrop::http
