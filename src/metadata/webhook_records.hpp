#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"

namespace audiodrop::metadata {

// A partner's webhook endpoint and the events it takes.
struct WebhookSubscription {
    std::string id;  // "whk_…"
    std::string client_id;
    std::string url;
    std::vector<std::string> events;  // "file.uploaded", ...
    std::string description;
    std::string secret;  // "whsec_…"
    // The secret before the last rotation: it signs alongside `secret` until it expires,
    // so receivers can switch over without losing an event. Empty when there is none.
    std::string previous_secret;
    core::TimePoint previous_secret_expires_at;
    core::TimePoint created_at;
};

// An event for a partner's subscribers, written in the same transaction as the state
// change it reports (a transactional outbox): it exists exactly when the change does.
struct OutboxEvent {
    std::string id;         // "evt_…", the same in every attempt
    std::string client_id;  // whose subscribers get it
    std::string type;       // "file.uploaded", ...
    std::string data;       // the event's `data`, a JSON object
    // The file the event is about, when a delivery should carry a DownloadUrl presigned
    // as it is sent (a URL made at the change would expire before a late retry).
    std::string object_key;
    core::TimePoint created_at;
    // A ping goes to this subscription alone, whatever events it takes.
    std::optional<std::string> only_subscription;
    // The id of the HTTP request that made the change, sent with every delivery as
    // X-Request-Id; empty for changes no request made (an upload expiring).
    std::string request_id;
};

// A delivery a dispatcher claimed: its lease keeps other replicas from sending it
// until it ends or expires.
struct ClaimedDelivery {
    OutboxEvent event;
    WebhookSubscription subscription;
    std::uint32_t attempt = 1;  // this attempt's number, from 1
    std::string claim;          // the lease's token; record_delivery_attempt checks it
};

// One try at sending an event to a subscription, as `deliveries` lists it.
struct DeliveryAttempt {
    std::string event_id;
    std::string event_type;
    std::string subscription_id;
    std::uint32_t attempt = 1;
    long status = 0;    // the receiver's HTTP status; 0 when it gave none
    std::string error;  // why it failed when there was no 2xx; empty on success
    core::TimePoint attempted_at;
    // When it is tried again; nullopt once delivered or given up on.
    std::optional<core::TimePoint> next_attempt_at;
};

}  // namespace audiodrop::metadata
