#include "auth/rate_limiter.hpp"

#include <algorithm>

namespace audiodrop::auth {

InMemoryRateLimiter::InMemoryRateLimiter(const core::Clock& clock, unsigned limit,
                                         std::chrono::seconds window)
    : clock_(clock), limit_(limit), window_(window) {}

core::Result<std::optional<std::chrono::seconds>> InMemoryRateLimiter::acquire(
    const std::string& key) {
    const core::TimePoint now = clock_.now();
    // An event at t counts while now - t < window.
    const core::TimePoint horizon = now - window_;
    std::lock_guard lock(mutex_);

    // Once a window, forget keys with no event inside it, so memory follows the keys
    // that are active rather than every key ever seen.
    if (now - last_prune_ >= window_) {
        std::erase_if(events_, [&](const auto& entry) { return entry.second.back() <= horizon; });
        last_prune_ = now;
    }
    if (limit_ == 0) return std::optional(window_);

    auto& log = events_[key];
    while (!log.empty() && log.front() <= horizon) log.pop_front();
    if (log.size() < limit_) {
        log.push_back(now);
        return std::optional<std::chrono::seconds>();
    }
    // The oldest event leaves the window first; round up so a client that waits this
    // long is let in.
    const auto wait = std::chrono::ceil<std::chrono::seconds>(log.front() + window_ - now);
    return std::optional(std::max(wait, std::chrono::seconds{1}));
}

}  // namespace audiodrop::auth
