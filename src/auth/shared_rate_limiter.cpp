#include "auth/shared_rate_limiter.hpp"

#include <algorithm>
#include <utility>
#include <vector>

namespace audiodrop::auth {
namespace {

// The fixed window that holds `now`: when it started, and how long a caller refused
// now has to wait for the next one (at least a second).
struct FixedWindow {
    std::int64_t start;
    std::chrono::seconds until_next;
};

FixedWindow window_at(core::TimePoint now, std::chrono::seconds window) {
    const std::int64_t t = core::to_unix(now);
    const std::int64_t length = window.count();
    const std::int64_t start = t - t % length;
    return {start, std::chrono::seconds{std::max<std::int64_t>(start + length - t, 1)}};
}

}  // namespace

SharedRateLimiter::SharedRateLimiter(metadata::MetadataStore& store, const core::Clock& clock,
                                     unsigned limit, std::chrono::seconds window, std::string scope)
    : store_(store), clock_(clock), limit_(limit), window_(window), scope_(std::move(scope)) {}

core::Result<std::optional<std::chrono::seconds>> SharedRateLimiter::acquire(
    const std::string& key) {
    const auto now = clock_.now();
    const FixedWindow w = window_at(now, window_);
    if (limit_ == 0) return std::optional(w.until_next);

    // Once a window, some replica drops the keys idle since the one before, so the
    // table holds only the keys active lately. A failure here costs nothing but space.
    const std::int64_t t = core::to_unix(now);
    std::int64_t last = last_forget_.load();
    if (t - last >= window_.count() && last_forget_.compare_exchange_strong(last, t)) {
        (void)store_.forget_request_counts(core::from_unix(w.start - window_.count()));
    }
    AUDIODROP_TRY_ASSIGN(auto count,
                         store_.count_requests(scope_ + ":" + key, core::from_unix(w.start), 1));
    if (count <= limit_) return std::optional<std::chrono::seconds>();
    return std::optional(w.until_next);
}

BatchedSharedRateLimiter::BatchedSharedRateLimiter(metadata::MetadataStore& store,
                                                   const core::Clock& clock, unsigned limit,
                                                   std::chrono::seconds window, std::string scope)
    : store_(store), clock_(clock), limit_(limit), window_(window), scope_(std::move(scope)) {}

core::Result<std::optional<std::chrono::seconds>> BatchedSharedRateLimiter::acquire(
    const std::string& key) {
    const FixedWindow w = window_at(clock_.now(), window_);
    std::lock_guard lock(mutex_);
    Count& count = counts_[key];
    if (count.window_start != w.start) count = Count{.window_start = w.start};
    if (count.synced + count.unsynced >= limit_) return std::optional(w.until_next);
    ++count.unsynced;
    return std::optional<std::chrono::seconds>();
}

core::Result<void> BatchedSharedRateLimiter::sync() {
    std::lock_guard one_at_a_time(sync_mutex_);
    const FixedWindow w = window_at(clock_.now(), window_);
    struct Batch {
        std::string key;
        std::int64_t window_start;
        std::uint64_t events;
    };
    std::vector<Batch> batches;
    {
        std::lock_guard lock(mutex_);
        // Keys idle since an earlier window have nothing left to limit.
        std::erase_if(counts_, [&](const auto& entry) {
            return entry.second.window_start < w.start && entry.second.unsynced == 0;
        });
        for (const auto& [key, count] : counts_) {
            if (count.unsynced > 0) batches.push_back({key, count.window_start, count.unsynced});
        }
    }
    core::Result<void> outcome;
    for (const Batch& batch : batches) {
        auto total = store_.count_requests(scope_ + ":" + batch.key,
                                           core::from_unix(batch.window_start), batch.events);
        if (!total) {
            if (outcome) outcome = std::move(total).error();
            continue;
        }
        std::lock_guard lock(mutex_);
        auto it = counts_.find(batch.key);
        // A window that ended meanwhile started over in memory; its old count is moot.
        if (it == counts_.end() || it->second.window_start != batch.window_start) continue;
        it->second.synced = *total;
        it->second.unsynced -= batch.events;
    }
    return outcome;
}

}  // namespace audiodrop::auth
