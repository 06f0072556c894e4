#pragma once

#include <chrono>
#include <cstddef>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "metadata/metadata_store.hpp"
#include "webhook/destination.hpp"

namespace audiodrop::events {

// The events a subscription can ask for; a ping goes to one subscription, asked or not.
inline constexpr std::string_view kSubscribableEvents[] = {"file.uploaded", "file.deleted",
                                                           "upload.aborted", "upload.expired"};
inline constexpr std::string_view kPingEvent = "webhook.ping";

struct WebhookOptions {
    webhook::DestinationPolicy policy;
    std::size_t max_per_partner = 20;
    std::size_t max_description_chars = 256;
    // How long a rotated-out secret keeps signing alongside the new one.
    std::chrono::seconds rotation_overlap{24 * 3600};
    std::size_t max_listed_attempts = 100;
    // How long finished deliveries stay listed.
    std::chrono::seconds history_retention{7 * 24 * 3600};
};

// A partner's webhook subscriptions (see docs/API.md): create, list, show, delete,
// rotate the secret, ping, and the latest delivery attempts. Another partner's
// subscription is not found. Blocking (a create resolves the URL's host): called on
// a worker pool. Thread-safe.
class WebhookService {
  public:
    WebhookService(metadata::MetadataStore& metadata, const core::Clock& clock,
                   WebhookOptions options, std::function<void()> event_written = {});

    // invalid_input "invalid_webhook_url" / "invalid_events" / "invalid_description";
    // rate_limited "too_many_webhooks". The result holds the secret: the only time it
    // leaves the service.
    core::Result<metadata::WebhookSubscription> create(const std::string& client_id,
                                                       const std::string& url,
                                                       const std::vector<std::string>& events,
                                                       const std::string& description);
    core::Result<std::vector<metadata::WebhookSubscription>> list(const std::string& client_id);
    // not_found "webhook_not_found" for this and the calls below.
    core::Result<metadata::WebhookSubscription> get(const std::string& client_id,
                                                    const std::string& id);
    core::Result<void> remove(const std::string& client_id, const std::string& id);
    // The subscription with its new secret.
    core::Result<metadata::WebhookSubscription> rotate_secret(const std::string& client_id,
                                                              const std::string& id);
    // Queues a webhook.ping event for the subscription; returns its event id.
    core::Result<std::string> ping(const std::string& client_id, const std::string& id);
    core::Result<std::vector<metadata::DeliveryAttempt>> deliveries(const std::string& client_id,
                                                                    const std::string& id);

    // Forgets finished deliveries older than history_retention; returns how many.
    core::Result<std::size_t> forget_history();

  private:
    metadata::MetadataStore& metadata_;
    const core::Clock& clock_;
    WebhookOptions options_;
    std::function<void()> event_written_;
};

}  // namespace audiodrop::events
