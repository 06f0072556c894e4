// Webhook subscriptions, managed with a partner token (docs/API.md "Webhooks").

#include "core/time_format.hpp"
#include "http/api_handler.hpp"
#include "http/json_fields.hpp"
#include "http/request_target.hpp"

namespace audiodrop::http {
namespace {

using json = nlohmann::ordered_json;

// The subscription as the API shows it; the secret only when just made.
json webhook_json(const metadata::WebhookSubscription& s, bool with_secret) {
    json out{{"Id", s.id}, {"Url", s.url}, {"Events", s.events}, {"Description", s.description}};
    if (with_secret) out["Secret"] = s.secret;
    out["CreatedAt"] = core::rfc3339(s.created_at);
    return out;
}

json attempt_json(const metadata::DeliveryAttempt& a) {
    return json{{"EventId", a.event_id},
                {"Event", a.event_type},
                {"Attempt", a.attempt},
                {"Status", a.status == 0 ? json(nullptr) : json(a.status)},
                {"Error", a.error.empty() ? json(nullptr) : json(a.error)},
                {"AttemptedAt", core::rfc3339(a.attempted_at)},
                {"NextAttemptAt",
                 a.next_attempt_at ? json(core::rfc3339(*a.next_attempt_at)) : json(nullptr)}};
}

// The {id} of /open/partner/webhooks/{id}[/action].
std::string webhook_id(const Exchange& ex) {
    const auto path = split_target(ex.request().target()).path;
    constexpr std::string_view kSegment = "/webhooks/";
    auto rest = path.substr(path.find(kSegment) + kSegment.size());
    return std::string(rest.substr(0, rest.find('/')));
}

}  // namespace

template <class Call>
asio::awaitable<void> ApiHandler::partner_call(Exchange& ex, unsigned status, bool with_body,
                                               Call call) {
    co_await respond(
        ex,
        co_await [&]() -> asio::awaitable<core::Result<json>> {
            AUDIODROP_CO_TRY_ASSIGN(const auto client_id, partner(ex));
            std::string text;
            if (with_body) {
                AUDIODROP_CO_TRY_ASSIGN(text, co_await body(ex));
            }
            // The storage pool: a create resolves the URL's host, which may take seconds.
            co_return co_await offload(pools_.storage, ex.request_id(),
                                       [&] { return call(client_id, text); });
        }(),
        status);
}

asio::awaitable<void> ApiHandler::create_webhook(Exchange& ex) {
    co_await partner_call(
        ex, 201, true,
        [&](const std::string& client_id, const std::string& text) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto req, parse_json_object(text));
            AUDIODROP_TRY_ASSIGN(auto url, required_string(req, "url"));
            AUDIODROP_TRY_ASSIGN(auto events,
                                 required_string_array(req, "events", "invalid_events"));
            AUDIODROP_TRY_ASSIGN(auto description, optional_string(req, "description"));
            AUDIODROP_TRY_ASSIGN(
                auto created, webhooks_.create(client_id, url, events, description.value_or("")));
            return webhook_json(created, true);
        });
}

asio::awaitable<void> ApiHandler::list_webhooks(Exchange& ex) {
    co_await partner_call(
        ex, 200, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto all, webhooks_.list(client_id));
            json list = json::array();
            for (const auto& s : all) list.push_back(webhook_json(s, false));
            return json{{"Webhooks", std::move(list)}};
        });
}

asio::awaitable<void> ApiHandler::get_webhook(Exchange& ex) {
    co_await partner_call(
        ex, 200, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto s, webhooks_.get(client_id, webhook_id(ex)));
            return webhook_json(s, false);
        });
}

asio::awaitable<void> ApiHandler::delete_webhook(Exchange& ex) {
    co_await partner_call(
        ex, 204, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY(webhooks_.remove(client_id, webhook_id(ex)));
            return json::object();
        });
}

asio::awaitable<void> ApiHandler::rotate_webhook_secret(Exchange& ex) {
    co_await partner_call(
        ex, 200, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto s, webhooks_.rotate_secret(client_id, webhook_id(ex)));
            return webhook_json(s, true);
        });
}

asio::awaitable<void> ApiHandler::ping_webhook(Exchange& ex) {
    co_await partner_call(
        ex, 202, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            AUDIODROP_TRY_ASSIGN(auto event_id, webhooks_.ping(client_id, webhook_id(ex)));
            return json{{"EventId", event_id}, {"Event", "webhook.ping"}};
        });
}

asio::awaitable<void> ApiHandler::webhook_deliveries(Exchange& ex) {
    co_await partner_call(
        ex, 200, false,
        [&](const std::string& client_id, const std::string&) -> core::Result<json> {
            const auto id = webhook_id(ex);
            AUDIODROP_TRY_ASSIGN(auto attempts, webhooks_.deliveries(client_id, id));
            json list = json::array();
            for (const auto& a : attempts) list.push_back(attempt_json(a));
            return json{{"WebhookId", id}, {"Deliveries", std::move(list)}};
        });
}

}  // namespace audiodrop::http
