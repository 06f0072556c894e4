#include "http/api_handler.hpp"

#include <array>

#include "http/api_response.hpp"
#include "http/demo_page.hpp"
#include "http/json_fields.hpp"
#include "http/request_target.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using core::make_error;

constexpr std::string_view kFilesPrefix = "/open/partner/files/";
constexpr std::string_view kWebhooks = "/open/partner/webhooks";

}  // namespace

ApiHandler::ApiHandler(auth::AuthService& auth, upload::UploadService& uploads,
                       events::WebhookService& webhooks, Metrics& metrics, ApiPools pools,
                       ApiOptions options)
    : auth_(auth),
      uploads_(uploads),
      webhooks_(webhooks),
      metrics_(metrics),
      pools_(pools),
      options_(std::move(options)) {}

ApiHandler::Route ApiHandler::find_route(Exchange& ex, std::string_view path, std::string& allow,
                                         RequestRoute& label) {
    struct Entry {
        std::string_view path;
        bhttp::verb verb;
        Route route;
        RequestRoute label;
    };
    using R = RequestRoute;
    static constexpr std::array kOps = {
        Entry{"/healthz", bhttp::verb::get, &ApiHandler::healthz, R::healthz},
        Entry{"/readyz", bhttp::verb::get, &ApiHandler::readyz, R::readyz},
        Entry{"/metrics", bhttp::verb::get, &ApiHandler::metrics, R::metrics},
    };
    static constexpr std::array kApi = {
        Entry{"/oauth/partner/access-token", bhttp::verb::post, &ApiHandler::partner_token,
              R::partner_token},
        Entry{"/oauth/partner/access-token/refresh", bhttp::verb::post, &ApiHandler::refresh_token,
              R::refresh_token},
        Entry{"/open/partner/users/access-token", bhttp::verb::post, &ApiHandler::user_token,
              R::user_token},
        Entry{"/open/partner/files/upload/generate-presigned-urls", bhttp::verb::post,
              &ApiHandler::generate_presigned_urls, R::generate_presigned_urls},
        Entry{"/open/partner/files/upload/complete-upload", bhttp::verb::post,
              &ApiHandler::complete_upload, R::complete_upload},
        Entry{"/open/partner/files/upload/parts", bhttp::verb::get, &ApiHandler::list_parts,
              R::list_parts},
        Entry{"/open/partner/files/upload/abort-upload", bhttp::verb::post,
              &ApiHandler::abort_upload, R::abort_upload},
    };
    const auto verb = ex.request().method();
    // HEAD is answered like GET where GET is allowed, without a body. A path that
    // matches is counted under its route even when the method is not allowed there.
    const auto match = [&](const Entry& e) -> Route {
        label = e.label;
        if (e.verb == verb || (e.verb == bhttp::verb::get && verb == bhttp::verb::head)) {
            return e.route;
        }
        allow += (allow.empty() ? "" : ", ") + std::string(bhttp::to_string(e.verb));
        return nullptr;
    };
    for (const auto& e : kOps) {
        if (e.path == path) return match(e);
    }
    if (options_.demo != nullptr && DemoPage::serves(path)) {
        return match({path, bhttp::verb::get, &ApiHandler::demo_page, R::demo_page});
    }
    if (!path.starts_with(options_.base_path)) return nullptr;
    const auto rel = path.substr(options_.base_path.size());
    for (const auto& e : kApi) {
        if (e.path == rel) return match(e);
    }
    if (rel == kWebhooks) {
        if (auto r = match({rel, bhttp::verb::get, &ApiHandler::list_webhooks, R::webhooks})) {
            return r;
        }
        return match({rel, bhttp::verb::post, &ApiHandler::create_webhook, R::webhooks});
    }
    if (rel.starts_with(kWebhooks) && rel[kWebhooks.size()] == '/') {
        // {id}, or {id}/action
        const auto sub = rel.substr(kWebhooks.size() + 1);
        const auto slash = sub.find('/');
        if (sub.empty() || slash == 0) return nullptr;
        if (slash == std::string_view::npos) {
            if (auto r = match({rel, bhttp::verb::get, &ApiHandler::get_webhook, R::webhook})) {
                return r;
            }
            return match({rel, bhttp::verb::delete_, &ApiHandler::delete_webhook, R::webhook});
        }
        const auto action = sub.substr(slash + 1);
        if (action == "rotate-secret") {
            return match({rel, bhttp::verb::post, &ApiHandler::rotate_webhook_secret,
                          R::webhook_rotate_secret});
        }
        if (action == "ping") {
            return match({rel, bhttp::verb::post, &ApiHandler::ping_webhook, R::webhook_ping});
        }
        if (action == "deliveries") {
            return match(
                {rel, bhttp::verb::get, &ApiHandler::webhook_deliveries, R::webhook_deliveries});
        }
        return nullptr;
    }
    if (rel.starts_with(kFilesPrefix)) {
        const auto id = rel.substr(kFilesPrefix.size());
        if (!id.empty() && id.find('/') == std::string_view::npos && id != "upload") {
            if (auto r = match({rel, bhttp::verb::get, &ApiHandler::get_file, R::file})) return r;
            return match({rel, bhttp::verb::delete_, &ApiHandler::delete_file, R::file});
        }
    }
    return nullptr;
}

asio::awaitable<void> ApiHandler::handle(Exchange& ex) {
    // The listener calls this as soon as the header is parsed.
    const auto started = std::chrono::steady_clock::now();
    const auto path = split_target(ex.request().target()).path;
    std::string allow;
    RequestRoute label = RequestRoute::unmatched;
    const Route route = find_route(ex, path, allow, label);
    if (route) {
        co_await (this->*route)(ex);
    } else if (!allow.empty()) {
        auto res = api_error(make_error(ErrorKind::invalid_input, "method_not_allowed",
                                        std::string(ex.request().method_string()) +
                                            " is not allowed here; use " + allow),
                             ex.request_id());
        res.result(bhttp::status::method_not_allowed);
        res.set(bhttp::field::allow, allow);
        co_await ex.send(std::move(res));
    } else {
        co_await fail(ex, make_error(ErrorKind::not_found, "not_found",
                                     "no such endpoint: " + std::string(path) +
                                         " (API paths start with " + options_.base_path + ")"));
    }
    metrics_.count_request(Metrics::Listener::api, label, ex.request().method(), ex.status(),
                           std::chrono::steady_clock::now() - started);
}

StringResponse ApiHandler::framing_error(unsigned status, std::string_view code,
                                         std::string_view message, const std::string& request_id) {
    auto res = api_error(
        make_error(ErrorKind::invalid_input, std::string(code), std::string(message)), request_id);
    res.result(static_cast<bhttp::status>(status));
    return res;
}

core::Result<auth::Principal> ApiHandler::bearer(const Exchange& ex) const {
    const auto it = ex.request().find(bhttp::field::authorization);
    if (it == ex.request().end()) {
        return make_error(ErrorKind::unauthenticated, "missing_token",
                          "send Authorization: Bearer <access token>");
    }
    const std::string_view value = it->value();
    constexpr std::string_view kScheme = "bearer ";
    if (value.size() <= kScheme.size() ||
        !beast::iequals(value.substr(0, kScheme.size()), kScheme)) {
        return make_error(ErrorKind::unauthenticated, "invalid_token",
                          "the Authorization header must be 'Bearer <access token>'");
    }
    AUDIODROP_TRY_ASSIGN(auto principal, auth_.authenticate(value.substr(kScheme.size())));
    AUDIODROP_TRY(auth_.admit_request(principal));
    return principal;
}

core::Result<upload::Owner> ApiHandler::user(const Exchange& ex) const {
    AUDIODROP_TRY_ASSIGN(auto principal, bearer(ex));
    if (principal.kind != auth::TokenKind::user) {
        return make_error(ErrorKind::forbidden, "user_token_required",
                          "file endpoints take a user access token; mint one with "
                          "POST /open/partner/users/access-token");
    }
    return upload::Owner{principal.client_id, principal.user_id};
}

core::Result<std::string> ApiHandler::partner(const Exchange& ex) const {
    AUDIODROP_TRY_ASSIGN(auto principal, bearer(ex));
    if (principal.kind != auth::TokenKind::partner) {
        return make_error(ErrorKind::forbidden, "partner_token_required",
                          "webhook endpoints take a partner access token (client credentials), "
                          "not a user token");
    }
    return std::move(principal.client_id);
}

asio::awaitable<core::Result<std::string>> ApiHandler::body(Exchange& ex) {
    co_return co_await ex.read_body(options_.max_json_body_bytes);
}

asio::awaitable<void> ApiHandler::reply(Exchange& ex, unsigned status,
                                        const nlohmann::ordered_json& body) {
    auto res = api_json(status, body);
    if (ex.request().method() == bhttp::verb::head) res.body().clear();
    co_await ex.send(std::move(res));
}

asio::awaitable<void> ApiHandler::fail(Exchange& ex, const core::Error& error) {
    // Counted here, where a store's failure becomes the one answer to one request: a
    // failure passes up through the service, which may retry or reword it, and work
    // in the background retries on its own schedule and logs what fails.
    metrics_.count_error(error);
    if (message_withheld(error)) ex.note_error(error.message);
    co_await ex.send(api_error(error, ex.request_id()));
}

asio::awaitable<void> ApiHandler::respond(Exchange& ex, core::Result<nlohmann::ordered_json> answer,
                                          unsigned status) {
    if (!answer) {
        co_await fail(ex, answer.error());
    } else if (status == 204) {
        StringResponse res{bhttp::status::no_content, 11};
        co_await ex.send(std::move(res));
    } else {
        co_await reply(ex, status, *answer);
    }
}

asio::awaitable<void> ApiHandler::healthz(Exchange& ex) {
    const nlohmann::ordered_json body{{"status", "ok"}};
    co_await reply(ex, 200, body);
}

asio::awaitable<void> ApiHandler::readyz(Exchange& ex) {
    co_await respond(ex, co_await offload(pools_.storage, ex.request_id(),
                                          [&]() -> core::Result<nlohmann::ordered_json> {
                                              AUDIODROP_TRY(uploads_.check_ready());
                                              return nlohmann::ordered_json{{"status", "ready"}};
                                          }));
}

asio::awaitable<void> ApiHandler::metrics(Exchange& ex) {
    StringResponse res{bhttp::status::ok, 11};
    res.set(bhttp::field::content_type, "text/plain; version=0.0.4");
    res.body() = metrics_.render();
    res.prepare_payload();
    co_await ex.send(std::move(res));
}

asio::awaitable<void> ApiHandler::demo_page(Exchange& ex) {
    co_await ex.send(options_.demo->answer(ex.request()));
}

}  // namespace audiodrop::http
