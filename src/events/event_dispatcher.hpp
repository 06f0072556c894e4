#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/log.hpp"
#include "core/periodic_task.hpp"
#include "core/repeated_warning.hpp"
#include "core/worker_pool.hpp"
#include "metadata/metadata_store.hpp"
#include "storage/object_store.hpp"
#include "webhook/sender.hpp"

namespace audiodrop::events {

struct DispatchOptions {
    // The wait before each retry: after the first failed attempt the first entry, and so
    // on; after the last, the delivery has failed for good.
    std::vector<std::chrono::milliseconds> retry_schedule{
        std::chrono::seconds(30), std::chrono::minutes(5), std::chrono::minutes(30),
        std::chrono::hours(2), std::chrono::hours(24)};
    webhook::SendOptions send;
    // How often the outbox is read for deliveries that are due (retries, and events
    // written by other replicas); this replica's own events are sent at once.
    std::chrono::milliseconds poll_interval{1000};
    // Deliveries under way at once, at most: the size of the senders' pool.
    std::size_t max_in_flight = 8;
    std::chrono::seconds download_url_ttl{24 * 3600};
};

// Sends the outbox's events to the subscribers, at least once, from any number of
// replicas: a thread claims due deliveries (a lease per delivery, so replicas split
// them and one that dies mid-send leaves them to the others once the lease ends), and
// the senders' pool POSTs each, signed both ways, then records the attempt and when
// to retry. Order is not kept: a retry can overtake a later event.
class EventDispatcher {
  public:
    EventDispatcher(metadata::MetadataStore& metadata, storage::ObjectStore& objects,
                    const core::Clock& clock, core::WorkerPool& senders, const core::Log& log,
                    DispatchOptions options);
    ~EventDispatcher();
    EventDispatcher(const EventDispatcher&) = delete;
    EventDispatcher& operator=(const EventDispatcher&) = delete;

    // An event was written: look for due deliveries now. Never blocks.
    void wake() { poller_.wake(); }
    // Stops claiming and waits for the deliveries under way.
    void stop();

    // Attempts so far (for /metrics).
    struct Stats {
        std::uint64_t delivered = 0;
        std::uint64_t failed_attempts = 0;  // retried later, or given up
        std::uint64_t given_up = 0;         // failed after the last retry
    };
    Stats stats() const { return {delivered_.load(), failed_attempts_.load(), given_up_.load()}; }

    // The body of a delivery of `event` (DownloadUrl added to file.uploaded's data).
    static std::string delivery_body(const metadata::OutboxEvent& event,
                                     const std::string& download_url,
                                     core::TimePoint download_url_expires_at);

  private:
    void claim_due();
    void deliver(const metadata::ClaimedDelivery& d);
    std::chrono::milliseconds lease() const;

    metadata::MetadataStore& metadata_;
    storage::ObjectStore& objects_;
    const core::Clock& clock_;
    core::WorkerPool& senders_;
    const core::Log& log_;
    DispatchOptions options_;
    std::string replica_claim_prefix_;
    // A store that stays unreachable is logged once a minute, not every poll.
    core::RepeatedWarning claim_failures_{std::chrono::minutes(1)};
    std::atomic<std::size_t> in_flight_{0};
    std::atomic<std::uint64_t> delivered_{0};
    std::atomic<std::uint64_t> failed_attempts_{0};
    std::atomic<std::uint64_t> given_up_{0};
    core::PeriodicTask poller_;  // last: starts once the members it reads exist
};

}  // namespace audiodrop::events
