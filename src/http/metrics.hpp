#pragma once

#include <array>
#include <atomic>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "core/worker_pool.hpp"
#include "http/latency_histogram.hpp"
#include "http/request_route.hpp"
#include "http/store_failure.hpp"

namespace audiodrop::http {

// Process counters for GET /metrics (Prometheus text format), shared by both
// listeners; docs/API.md lists every series. Counting is lock-free but for one short
// lock per request (its route and status), and render() is O(series).
class Metrics {
  public:
    enum class Listener : std::uint8_t { api, storage };

    // A request answered, counted by route, method and status (one outside 100..599
    // as "other"), and `took` (from its parsed header to its answer's last byte) into
    // its route's latency histogram.
    void count_request(Listener listener, RequestRoute route, boost::beast::http::verb method,
                       unsigned status, std::chrono::steady_clock::duration took);
    // An error answered: counted when a store's failure caused it (store_failure()),
    // ignored otherwise (a client's mistake shows in its request's status).
    void count_error(const core::Error& error);
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
        add_external({std::move(series), std::move(help), "counter", std::move(read)});
    }
    // The same for a value that goes up and down (open connections).
    void add_gauge(std::string series, std::string help, std::function<double()> read) {
        add_external({std::move(series), std::move(help), "gauge", std::move(read)});
    }

    std::string render() const;

  private:
    // The methods a request is counted under; any other is "OTHER".
    static constexpr std::array<boost::beast::http::verb, 6> kMethods = {
        boost::beast::http::verb::get,     boost::beast::http::verb::head,
        boost::beast::http::verb::post,    boost::beast::http::verb::put,
        boost::beast::http::verb::delete_, boost::beast::http::verb::options};
    static constexpr std::size_t kListeners = 2;
    static constexpr std::size_t kMethodSlots = kMethods.size() + 1;
    static constexpr std::size_t kRouteSlots = kListeners * kRequestRoutes * kMethodSlots;

    // Where a (listener, route, method) is counted; render() reads the labels back.
    static std::size_t route_slot(Listener listener, RequestRoute route,
                                  boost::beast::http::verb method);
    struct SlotLabels {
        std::string_view listener;
        std::string_view route;
        std::string_view method;
    };
    static SlotLabels slot_labels(std::size_t slot);

    void render_requests(std::string& out) const;
    void render_latency(std::string& out) const;
    void render_store_errors(std::string& out) const;
    void render_pools(std::string& out) const;
    void render_external(std::string& out) const;

    std::array<LatencyHistogram, kRouteSlots> latency_;
    // Requests by route slot and status: slot << 10 | status (0: outside 100..599).
    // A map, not an array per slot, because a route answers only a few of the 500
    // statuses; ordered, so that render() groups a route's series.
    mutable std::mutex requests_mutex_;
    std::map<std::uint32_t, std::uint64_t> requests_;
    std::array<std::atomic<std::uint64_t>, kStores * kStoreFailureKinds> store_errors_{};
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
    // Kept next to the series of the same metric registered before it, whatever came
    // between: the exposition format wants a metric's series together.
    void add_external(ExternalCounter counter);
    std::vector<ExternalCounter> counters_;
};

}  // namespace audiodrop::http
