#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "core/worker_pool.hpp"

namespace audiodrop::http {

// Process counters for GET /metrics (Prometheus text format). Lock-free; shared by
// both listeners.
class Metrics {
  public:
    enum class Listener { api, storage };

    void count_request(Listener l, unsigned status);
    void add_part_bytes(std::uint64_t n) { part_bytes_.fetch_add(n, std::memory_order_relaxed); }
    void add_download_bytes(std::uint64_t n) {
        download_bytes_.fetch_add(n, std::memory_order_relaxed);
    }
    void count_part_stored() { parts_stored_.fetch_add(1, std::memory_order_relaxed); }
    void count_upload_started() { uploads_started_.fetch_add(1, std::memory_order_relaxed); }
    void count_upload_completed() { uploads_completed_.fetch_add(1, std::memory_order_relaxed); }

    // Pools whose queue depth, busy threads and refusals /metrics reports; set once at
    // start, before any request.
    void watch_pools(std::vector<const core::WorkerPool*> pools) { pools_ = std::move(pools); }
    // A counter kept elsewhere (a store's), read when /metrics is rendered: `series` is
    // the name with its labels, e.g. audiodrop_md5_bytes_total{phase="background"}.
    // Set at start, before any request. A double, so that times can be in seconds.
    void add_counter(std::string series, std::string help, std::function<double()> read) {
        counters_.push_back({std::move(series), std::move(help), "counter", std::move(read)});
    }
    // The same for a value that goes up and down (open connections).
    void add_gauge(std::string series, std::string help, std::function<double()> read) {
        counters_.push_back({std::move(series), std::move(help), "gauge", std::move(read)});
    }

    std::string render() const;

  private:
    void render_pools(std::string& out) const;

    static constexpr std::size_t kClasses = 5;  // 1xx..5xx
    std::array<std::array<std::atomic<std::uint64_t>, kClasses>, 2> requests_{};
    std::atomic<std::uint64_t> part_bytes_{0};
    std::atomic<std::uint64_t> download_bytes_{0};
    std::atomic<std::uint64_t> parts_stored_{0};
    std::atomic<std::uint64_t> uploads_started_{0};
    std::atomic<std::uint64_t> uploads_completed_{0};
    std::vector<const core::WorkerPool*> pools_;
    struct ExternalCounter {
        std::string series;
        std::string help;
        std::string_view type;  // "counter" or "gauge"
        std::function<double()> read;
    };
    std::vector<ExternalCounter> counters_;
};

}  // namespace audiodrop::http
