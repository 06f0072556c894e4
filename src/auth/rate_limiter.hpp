#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"
#include "core/error.hpp"

namespace audiodrop::auth {

// A limit of so many events per window for each key. Thread-safe.
class RateLimiter {
  public:
    virtual ~RateLimiter() = default;
    // Records an event for `key` and returns nullopt when it is allowed; otherwise how
    // long until the next event would be allowed. An error only when the limiter's
    // state cannot be reached.
    virtual core::Result<std::optional<std::chrono::seconds>> acquire(const std::string& key) = 0;
    // Exchanges the counts a limiter batches with what its peers counted; nothing to do
    // for a limiter that counts every event where it decides.
    virtual core::Result<void> sync() { return {}; }
};

// A sliding window in memory: exact, cheap, and per replica. Keys idle for a whole
// window are forgotten, so memory is bounded by the keys active in the last window.
// A refused event is not recorded.
class InMemoryRateLimiter final : public RateLimiter {
  public:
    InMemoryRateLimiter(const core::Clock& clock, unsigned limit, std::chrono::seconds window);

    core::Result<std::optional<std::chrono::seconds>> acquire(const std::string& key) override;

  private:
    const core::Clock& clock_;
    unsigned limit_;
    std::chrono::seconds window_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::deque<core::TimePoint>> events_;
    core::TimePoint last_prune_{};
};

}  // namespace audiodrop::auth
