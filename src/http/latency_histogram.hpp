#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace audiodrop::http {

// Durations counted into fixed buckets, for a Prometheus histogram. Lock-free:
// observe() is one relaxed increment of a bucket and one of the sum, from any thread.
class LatencyHistogram {
  public:
    // Upper bounds, in milliseconds: fine at the bottom for the API's JSON calls, and up
    // to a minute because a 5 MiB part from a phone on a slow link takes tens of seconds.
    static constexpr std::array<std::uint32_t, 13> kBoundsMs = {
        5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000};

    // Counts `took` in the first bucket whose bound it does not exceed (Prometheus's
    // `le`: a duration equal to a bound belongs to that bound).
    void observe(std::chrono::nanoseconds took);

    struct Snapshot {
        // Observations at or below each bound; the last is +Inf, every observation.
        std::array<std::uint64_t, kBoundsMs.size() + 1> cumulative{};
        double sum_seconds = 0;
        std::uint64_t count() const { return cumulative.back(); }
    };
    // Cumulative counts made from one read of each bucket, so that they never decrease
    // from bound to bound and +Inf equals the count even while requests are observed.
    Snapshot snapshot() const;

  private:
    // Per bucket, not cumulative; the last holds what is above every bound.
    std::array<std::atomic<std::uint64_t>, kBoundsMs.size() + 1> buckets_{};
    std::atomic<std::uint64_t> sum_nanos_{0};
};

}  // namespace audiodrop::http
