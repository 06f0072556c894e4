#pragma once

#include <chrono>
#include <cstdint>

namespace audiodrop::core {

using TimePoint = std::chrono::system_clock::time_point;
using Seconds = std::chrono::seconds;

// Injected wherever time matters, so expiry and token tests run on a fake clock.
class Clock {
  public:
    virtual ~Clock() = default;
    virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
  public:
    TimePoint now() const override { return std::chrono::system_clock::now(); }
};

inline std::int64_t to_unix(TimePoint t) {
    return std::chrono::duration_cast<Seconds>(t.time_since_epoch()).count();
}
inline TimePoint from_unix(std::int64_t s) { return TimePoint{Seconds{s}}; }

}  // namespace audiodrop::core
