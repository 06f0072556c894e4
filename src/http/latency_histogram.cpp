#include "http/latency_histogram.hpp"

#include <algorithm>

namespace audiodrop::http {

void LatencyHistogram::observe(std::chrono::nanoseconds took) {
    const auto nanos = static_cast<std::uint64_t>(std::max<std::int64_t>(took.count(), 0));
    const auto bucket =
        std::ranges::lower_bound(kBoundsMs, nanos, {},
                                 [](std::uint32_t ms) { return std::uint64_t{ms} * 1'000'000; }) -
        kBoundsMs.begin();
    buckets_[static_cast<std::size_t>(bucket)].fetch_add(1, std::memory_order_relaxed);
    sum_nanos_.fetch_add(nanos, std::memory_order_relaxed);
}

LatencyHistogram::Snapshot LatencyHistogram::snapshot() const {
    Snapshot s;
    std::uint64_t running = 0;
    for (std::size_t i = 0; i < buckets_.size(); ++i) {
        running += buckets_[i].load(std::memory_order_relaxed);
        s.cumulative[i] = running;
    }
    s.sum_seconds = static_cast<double>(sum_nanos_.load(std::memory_order_relaxed)) / 1e9;
    return s;
}

}  // namespace audiodrop::http
