#pragma once

#include <chrono>

#include "core/clock.hpp"

namespace audiodrop::auth::testing {

// A clock that moves only when told to; starts on a whole second, as the metadata store
// keeps times in unix seconds.
class FakeClock final : public core::Clock {
  public:
    explicit FakeClock(core::TimePoint start = core::from_unix(1'700'000'000)) : now_(start) {}
    core::TimePoint now() const override { return now_; }
    void advance(std::chrono::seconds by) { now_ += by; }

  private:
    core::TimePoint now_;
};

}  // namespace audiodrop::auth::testing
