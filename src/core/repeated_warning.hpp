#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>

namespace audiodrop::core {

// Lets a warning that can recur thousands of times a second (a flood of refused
// connections, a process out of file descriptors) through at most once per interval,
// so the log stays readable and costs nothing under attack. Thread-safe.
class RepeatedWarning {
  public:
    explicit RepeatedWarning(std::chrono::steady_clock::duration interval = std::chrono::seconds(1))
        : interval_(interval) {}

    // Counts one occurrence. Returns how many occurrences a line logged now stands for
    // (this one and those held back since the last line), or 0 to hold this one back.
    std::uint64_t occur() {
        std::lock_guard lock(mutex_);
        ++held_;
        const auto now = std::chrono::steady_clock::now();
        if (logged_once_ && now - last_ < interval_) return 0;
        logged_once_ = true;
        last_ = now;
        const auto count = held_;
        held_ = 0;
        return count;
    }

  private:
    std::chrono::steady_clock::duration interval_;
    std::mutex mutex_;
    bool logged_once_ = false;
    std::chrono::steady_clock::time_point last_{};
    std::uint64_t held_ = 0;
};

}  // namespace audiodrop::core
