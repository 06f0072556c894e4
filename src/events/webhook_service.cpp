#include "events/webhook_service.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>

#include "core/ids.hpp"
#include "core/request_context.hpp"
#include "core/time_format.hpp"
#include "webhook/signature.hpp"

namespace audiodrop::events {
namespace {

using core::ErrorKind;
using core::make_error;

core::Error webhook_not_found(const std::string& id) {
    return make_error(ErrorKind::not_found, "webhook_not_found",
                      "no webhook '" + id + "' belongs to this partner");
}

std::string subscribable_list() {
    std::string out;
    for (const auto e : kSubscribableEvents) out += (out.empty() ? "" : ", ") + std::string(e);
    return out;
}

core::Result<std::vector<std::string>> checked_events(const std::vector<std::string>& events) {
    if (events.empty()) {
        return make_error(ErrorKind::invalid_input, "invalid_events",
                          "events must name at least one of: " + subscribable_list());
    }
    std::vector<std::string> out;
    for (const auto& e : events) {
        if (std::find(std::begin(kSubscribableEvents), std::end(kSubscribableEvents), e) ==
            std::end(kSubscribableEvents)) {
            return make_error(ErrorKind::invalid_input, "invalid_events",
                              "unknown event '" + e + "'; events are: " + subscribable_list());
        }
        if (std::find(out.begin(), out.end(), e) == out.end()) out.push_back(e);
    }
    return out;
}

}  // namespace

WebhookService::WebhookService(metadata::MetadataStore& metadata, const core::Clock& clock,
                               WebhookOptions options, std::function<void()> event_written)
    : metadata_(metadata),
      clock_(clock),
      options_(std::move(options)),
      event_written_(std::move(event_written)) {}

core::Result<metadata::WebhookSubscription> WebhookService::create(
    const std::string& client_id, const std::string& url, const std::vector<std::string>& events,
    const std::string& description) {
    if (description.size() > options_.max_description_chars) {
        return make_error(ErrorKind::invalid_input, "invalid_description",
                          "description is longer than " +
                              std::to_string(options_.max_description_chars) + " characters");
    }
    metadata::WebhookSubscription s;
    AUDIODROP_TRY_ASSIGN(s.events, checked_events(events));
    AUDIODROP_TRY(webhook::check_destination(url, options_.policy));
    s.id = core::new_id("whk_");
    s.client_id = client_id;
    s.url = url;
    s.description = description;
    s.secret = webhook::new_secret();
    s.created_at = clock_.now();
    AUDIODROP_TRY(metadata_.create_webhook(s, options_.max_per_partner));
    return s;
}

core::Result<std::vector<metadata::WebhookSubscription>> WebhookService::list(
    const std::string& client_id) {
    return metadata_.list_webhooks(client_id);
}

core::Result<metadata::WebhookSubscription> WebhookService::get(const std::string& client_id,
                                                                const std::string& id) {
    // Only ids this service minted can exist (PostgreSQL refuses text with NUL bytes).
    if (!core::looks_like_id(id, "whk_")) return webhook_not_found(id);
    AUDIODROP_TRY_ASSIGN(auto found, metadata_.find_webhook(client_id, id));
    if (!found) return webhook_not_found(id);
    return std::move(*found);
}

core::Result<void> WebhookService::remove(const std::string& client_id, const std::string& id) {
    if (!core::looks_like_id(id, "whk_")) return webhook_not_found(id);
    AUDIODROP_TRY_ASSIGN(const bool removed, metadata_.delete_webhook(client_id, id));
    if (!removed) return webhook_not_found(id);
    return {};
}

core::Result<metadata::WebhookSubscription> WebhookService::rotate_secret(
    const std::string& client_id, const std::string& id) {
    if (!core::looks_like_id(id, "whk_")) return webhook_not_found(id);
    AUDIODROP_TRY_ASSIGN(auto rotated,
                         metadata_.rotate_webhook_secret(client_id, id, webhook::new_secret(),
                                                         clock_.now() + options_.rotation_overlap));
    if (!rotated) return webhook_not_found(id);
    return std::move(*rotated);
}

core::Result<std::string> WebhookService::ping(const std::string& client_id,
                                               const std::string& id) {
    AUDIODROP_TRY_ASSIGN(const auto subscription, get(client_id, id));
    metadata::OutboxEvent e;
    e.id = core::new_id("evt_");
    e.client_id = client_id;
    e.type = std::string(kPingEvent);
    e.data = nlohmann::ordered_json{{"WebhookId", subscription.id}}.dump();
    e.created_at = clock_.now();
    e.only_subscription = subscription.id;
    e.request_id = core::current_request_id();
    AUDIODROP_TRY_ASSIGN(const bool queued, metadata_.add_event(e));
    if (!queued) return webhook_not_found(id);  // deleted meanwhile
    if (event_written_) event_written_();
    return e.id;
}

core::Result<std::vector<metadata::DeliveryAttempt>> WebhookService::deliveries(
    const std::string& client_id, const std::string& id) {
    AUDIODROP_TRY(get(client_id, id));
    return metadata_.list_delivery_attempts(id, options_.max_listed_attempts);
}

core::Result<std::size_t> WebhookService::forget_history() {
    return metadata_.forget_webhook_history(clock_.now() - options_.history_retention);
}

}  // namespace audiodrop::events
