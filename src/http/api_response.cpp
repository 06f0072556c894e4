#include "http/api_response.hpp"

#include "http/store_failure.hpp"

namespace audiodrop::http {

unsigned api_status(core::ErrorKind kind) {
    using K = core::ErrorKind;
    switch (kind) {
        case K::invalid_input:
            return 400;
        case K::unauthenticated:
            return 401;
        case K::forbidden:
            return 403;
        case K::not_found:
            return 404;
        case K::conflict:
            return 409;
        case K::gone:
            return 410;
        case K::length_required:
            return 411;
        case K::too_large:
            return 413;
        case K::unprocessable:
            return 422;
        case K::rate_limited:
            return 429;
        case K::unavailable:
            return 503;
        case K::storage_full:
            return 507;
        case K::internal:
            return 500;
    }
    return 500;
}

StringResponse api_json(unsigned status, const nlohmann::ordered_json& body) {
    return api_json_text(status, encode_json(body));
}

std::string encode_json(const nlohmann::ordered_json& body) {
    return body.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace);
}

StringResponse api_json_text(unsigned status, std::string body) {
    StringResponse res{static_cast<bhttp::status>(status), 11};
    res.set(bhttp::field::content_type, "application/json");
    res.set(bhttp::field::cache_control, "no-store");
    res.body() = std::move(body);
    res.prepare_payload();
    return res;
}

namespace {

// Store failures arrive in the store's words (S3 codes, SQLite's); the API names them
// in its own, so clients branch on one documented set.
std::string api_code(const core::Error& error) {
    if (error.kind == core::ErrorKind::storage_full) return "storage_full";
    if (const auto failure = store_failure(error);
        failure && failure->store == StoreFailure::Store::objects &&
        failure->kind == StoreFailure::Kind::unavailable) {
        return "storage_unavailable";
    }
    return error.code;
}

}  // namespace

bool message_withheld(const core::Error& error) {
    switch (error.kind) {
        case core::ErrorKind::internal:
        case core::ErrorKind::storage_full:
            return true;
        case core::ErrorKind::unavailable:
            return error.reason != core::Reason::server_busy &&
                   error.reason != core::Reason::resolver_unavailable;
        default:
            return false;
    }
}

std::string public_message(const core::Error& error) {
    if (!message_withheld(error)) return error.message;
    switch (error.kind) {
        case core::ErrorKind::storage_full:
            return "the server has no room for this now; retry later";
        case core::ErrorKind::unavailable:
            return "a store behind the server is unavailable; retry shortly (the server's log "
                   "has the details under this request id)";
        default:
            return "the server failed to handle this request (the server's log has the details "
                   "under this request id)";
    }
}

StringResponse api_error(const core::Error& error, const std::string& request_id) {
    const unsigned status = api_status(error.kind);
    auto res = api_json(status,
                        {{"error", {{"code", api_code(error)}, {"message", public_message(error)}}},
                         {"request_id", request_id}});
    if (error.retry_after_seconds) {
        res.set(bhttp::field::retry_after, std::to_string(*error.retry_after_seconds));
    }
    if (status == 401) res.set(bhttp::field::www_authenticate, "Bearer realm=\"audiodrop\"");
    return res;
}

}  // namespace audiodrop::http
