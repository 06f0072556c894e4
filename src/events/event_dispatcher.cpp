#include "events/event_dispatcher.hpp"

#include <nlohmann/json.hpp>

#include "core/hashing.hpp"
#include "core/ids.hpp"
#include "core/time_format.hpp"
#include "webhook/signature.hpp"

namespace audiodrop::events {
namespace {

using nlohmann::ordered_json;

// A delivery's lease outlasts its attempt: the send's timeout, plus room for claiming,
// queueing and recording it.
constexpr auto kLeaseMargin = std::chrono::seconds(10);

std::vector<std::string> signing_secrets(const metadata::WebhookSubscription& s,
                                         core::TimePoint now) {
    std::vector<std::string> secrets{s.secret};
    if (!s.previous_secret.empty() && now < s.previous_secret_expires_at) {
        secrets.push_back(s.previous_secret);
    }
    return secrets;
}

}  // namespace

EventDispatcher::EventDispatcher(metadata::MetadataStore& metadata, storage::ObjectStore& objects,
                                 const core::Clock& clock, core::WorkerPool& senders,
                                 const core::Log& log, DispatchOptions options)
    : metadata_(metadata),
      objects_(objects),
      clock_(clock),
      senders_(senders),
      log_(log),
      options_(std::move(options)),
      replica_claim_prefix_(core::new_id("claim_") + "."),
      poller_(options_.poll_interval, [this] { claim_due(); }) {}

EventDispatcher::~EventDispatcher() { stop(); }

void EventDispatcher::stop() {
    poller_.stop();
    // Deliveries under way end within their timeout; what is claimed but unsent is
    // claimed again, here or by another replica, once its lease ends.
    for (auto n = in_flight_.load(); n != 0; n = in_flight_.load()) in_flight_.wait(n);
}

std::chrono::milliseconds EventDispatcher::lease() const {
    return options_.send.timeout + kLeaseMargin;
}

void EventDispatcher::claim_due() {
    for (;;) {
        const std::size_t busy = in_flight_.load();
        if (busy >= options_.max_in_flight) return;  // a finished delivery wakes us
        const std::size_t room = options_.max_in_flight - busy;
        const std::string claim = replica_claim_prefix_ + core::new_id("");
        auto claimed = metadata_.claim_deliveries(clock_.now(), lease(), room, claim);
        if (!claimed) {
            if (const auto count = claim_failures_.occur()) {
                log_.warn({{"event", "webhook_claim_failed"},
                           {"error", claimed.error().message},
                           {"count", count}});
            }
            return;
        }
        for (auto& d : *claimed) {
            in_flight_.fetch_add(1);
            core::Task send = [this, d = std::move(d)] {
                deliver(d);
                in_flight_.fetch_sub(1);
                in_flight_.notify_all();
                poller_.wake();
            };
            if (!senders_.try_submit(send)) {
                // Its lease runs out and it is claimed again.
                in_flight_.fetch_sub(1);
                in_flight_.notify_all();
            }
        }
        if (claimed->size() < room) return;  // nothing more is due
    }
}

std::string EventDispatcher::delivery_body(const metadata::OutboxEvent& event,
                                           const std::string& download_url,
                                           core::TimePoint download_url_expires_at) {
    auto data = ordered_json::parse(event.data, nullptr, false);
    if (!download_url.empty() && data.is_object()) {
        data["DownloadUrl"] = download_url;
        data["DownloadUrlExpiresAt"] = core::rfc3339(download_url_expires_at);
    }
    return ordered_json{{"id", event.id},
                        {"event", event.type},
                        {"created_at", core::rfc3339(event.created_at)},
                        {"data", std::move(data)}}
        .dump();
}

void EventDispatcher::deliver(const metadata::ClaimedDelivery& d) {
    const auto now = clock_.now();
    std::string url;
    if (!d.event.object_key.empty()) {
        // Presigned as it is sent, so even the last retry carries a URL that works.
        if (auto presigned = objects_.presign_get(d.event.object_key, options_.download_url_ttl)) {
            url = std::move(*presigned);
        }
    }
    const std::string body = delivery_body(d.event, url, now + options_.download_url_ttl);
    auto headers =
        webhook::sign(d.event.id, core::to_unix(now), body, signing_secrets(d.subscription, now))
            .headers;
    // The request that made the change, so a receiver can quote it to the partner's app.
    if (!d.event.request_id.empty()) headers.emplace_back("X-Request-Id", d.event.request_id);
    const auto started = std::chrono::steady_clock::now();
    const auto sent = webhook::post_json(d.subscription.url, headers, body, options_.send);
    const auto took = std::chrono::duration<double>(std::chrono::steady_clock::now() - started);

    metadata::DeliveryAttempt attempt;
    attempt.event_id = d.event.id;
    attempt.event_type = d.event.type;
    attempt.subscription_id = d.subscription.id;
    attempt.attempt = d.attempt;
    attempt.status = sent.status;
    attempt.attempted_at = now;
    const bool delivered = sent.delivered();
    if (!delivered) {
        attempt.error = !sent.error.empty() ? sent.error
                                            : "the receiver answered HTTP " +
                                                  std::to_string(sent.status) + ", not 2xx";
        if (d.attempt <= options_.retry_schedule.size()) {
            attempt.next_attempt_at = clock_.now() + options_.retry_schedule[d.attempt - 1];
        }
    }
    auto recorded = metadata_.record_delivery_attempt(attempt, d.claim, delivered);
    const std::initializer_list<core::LogField> fields = {
        {"event", "webhook_attempt"},
        {"event_id", d.event.id},
        {"type", d.event.type},
        {"request_id", d.event.request_id},
        {"webhook_id", d.subscription.id},
        {"attempt", d.attempt},
        {"status", sent.status},
        {"seconds", took.count()},
        {"outcome", delivered                 ? "delivered"
                    : attempt.next_attempt_at ? "retry"
                                              : "failed"},
        {"error", attempt.error},
    };
    if (delivered) {
        delivered_.fetch_add(1, std::memory_order_relaxed);
        log_.info(fields);
    } else {
        failed_attempts_.fetch_add(1, std::memory_order_relaxed);
        if (!attempt.next_attempt_at) given_up_.fetch_add(1, std::memory_order_relaxed);
        log_.warn(fields);
    }
    if (!recorded) {
        log_.warn({{"event", "webhook_record_failed"},
                   {"event_id", d.event.id},
                   {"error", recorded.error().message}});
    } else if (!*recorded) {
        // Its lease ran out mid-send and another replica took it: it may arrive twice.
        log_.warn({{"event", "webhook_lease_lost"}, {"event_id", d.event.id}});
    }
}

}  // namespace audiodrop::events
