#pragma once

#include <chrono>
#include <deque>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>

#include "core/clock.hpp"

namespace audiodrop::auth {

// A sliding-window limit of `limit` events per `window` for each key, in memory
// (per replica). Thread-safe. Keys idle for a whole window are forgotten, so memory
// is bounded by the keys active in the last window.
class RateLimiter {
  public:
    RateLimiter(const core::Clock& clock, unsigned limit, std::chrono::seconds window);

    // Records an event for `key` and returns nullopt when it is allowed; otherwise
    // records nothing and returns how long until the next event would be allowed.
    std::optional<std::chrono::seconds> acquire(const std::string& key);

  private:
    const core::Clock& clock_;
    unsigned limit_;
    std::chrono::seconds window_;
    std::mutex mutex_;
    std::unordered_map<std::string, std::deque<core::TimePoint>> events_;
    core::TimePoint last_prune_{};
};

}  // namespace audiodrop::auth
