#include "http/metrics.hpp"

#include <algorithm>
#include <charconv>
#include <initializer_list>
#include <utility>

namespace audiodrop::http {

namespace bhttp = boost::beast::http;

namespace {

using Label = std::pair<std::string_view, std::string_view>;

constexpr std::array<std::string_view, 2> kListenerLabels = {"api", "storage"};
constexpr std::array<std::string_view, 7> kMethodLabels = {"GET",    "HEAD",    "POST", "PUT",
                                                           "DELETE", "OPTIONS", "OTHER"};
constexpr unsigned kStatusBits = 10;  // 599 < 1024
constexpr std::string_view kDuration = "audiodrop_http_request_duration_seconds";

// The HELP and TYPE lines that open a metric's series.
void family(std::string& out, std::string_view name, std::string_view type, std::string_view help) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += ' ';
    out += type;
    out += '\n';
}

// A label value as the text format wants it: backslash, double quote and newline
// escaped.
void append_label_value(std::string& out, std::string_view value) {
    for (const char c : value) {
        switch (c) {
            case '\\':
                out += "\\\\";
                break;
            case '"':
                out += "\\\"";
                break;
            case '\n':
                out += "\\n";
                break;
            default:
                out += c;
        }
    }
}

// `name{a="x",b="y"} value` and its newline.
void sample(std::string& out, std::string_view name, std::initializer_list<Label> labels,
            std::string_view value) {
    out += name;
    char separator = '{';
    for (const auto& [label, text] : labels) {
        out += separator;
        out += label;
        out += "=\"";
        append_label_value(out, text);
        out += '"';
        separator = ',';
    }
    if (separator == ',') out += '}';
    out += ' ';
    out += value;
    out += '\n';
}

void counter(std::string& out, std::string_view name, std::string_view help, std::uint64_t value) {
    family(out, name, "counter", help);
    sample(out, name, {}, std::to_string(value));
}

// The shortest text that reads back as `value`: "42" for whole numbers, as counters
// of bytes and events are.
std::string number(double value) {
    std::array<char, 32> text{};
    const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
    return std::string(text.data(), end);
}

}  // namespace

std::size_t Metrics::route_slot(Listener listener, RequestRoute route, bhttp::verb method) {
    const auto m = static_cast<std::size_t>(std::ranges::find(kMethods, method) - kMethods.begin());
    auto r = static_cast<std::size_t>(route);
    if (r >= kRequestRoutes) r = static_cast<std::size_t>(RequestRoute::unmatched);
    return (static_cast<std::size_t>(listener) * kRequestRoutes + r) * kMethodSlots + m;
}

Metrics::SlotLabels Metrics::slot_labels(std::size_t slot) {
    const auto route = slot / kMethodSlots % kRequestRoutes;
    return SlotLabels{kListenerLabels[slot / kMethodSlots / kRequestRoutes],
                      route_label(static_cast<RequestRoute>(route)),
                      kMethodLabels[slot % kMethodSlots]};
}

void Metrics::count_request(Listener listener, RequestRoute route, bhttp::verb method,
                            unsigned status, std::chrono::steady_clock::duration took) {
    const auto slot = route_slot(listener, route, method);
    latency_[slot].observe(std::chrono::duration_cast<std::chrono::nanoseconds>(took));
    const unsigned code = status >= 100 && status < 600 ? status : 0;
    const auto key = static_cast<std::uint32_t>(slot << kStatusBits | code);
    std::lock_guard lock(requests_mutex_);
    ++requests_[key];
}

void Metrics::count_error(const core::Error& error) {
    const auto failure = store_failure(error);
    if (!failure) return;
    const auto i = static_cast<std::size_t>(failure->store) * kStoreFailureKinds +
                   static_cast<std::size_t>(failure->kind);
    store_errors_[i].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
    std::string out;
    render_requests(out);
    render_latency(out);
    counter(out, "audiodrop_part_bytes_received_total", "Bytes of parts stored.",
            part_bytes_.load(std::memory_order_relaxed));
    counter(out, "audiodrop_download_bytes_sent_total", "Bytes of objects served.",
            download_bytes_.load(std::memory_order_relaxed));
    counter(out, "audiodrop_parts_stored_total", "Parts stored.",
            parts_stored_.load(std::memory_order_relaxed));
    counter(out, "audiodrop_uploads_started_total", "Uploads started.",
            uploads_started_.load(std::memory_order_relaxed));
    counter(out, "audiodrop_uploads_completed_total", "Uploads completed.",
            uploads_completed_.load(std::memory_order_relaxed));
    render_store_errors(out);
    render_pools(out);
    render_external(out);
    return out;
}

void Metrics::render_requests(std::string& out) const {
    std::vector<std::pair<std::uint32_t, std::uint64_t>> counts;
    {
        // Copied out, so that requests wait on the lock for the copy, not the text.
        std::lock_guard lock(requests_mutex_);
        counts.assign(requests_.begin(), requests_.end());
    }
    constexpr std::string_view kName = "audiodrop_http_requests_total";
    family(out, kName, "counter", "Requests answered, by listener, route, method and status.");
    for (const auto& [key, n] : counts) {
        const auto labels = slot_labels(key >> kStatusBits);
        const auto status = key & ((1U << kStatusBits) - 1);
        sample(out, kName,
               {{"listener", labels.listener},
                {"route", labels.route},
                {"method", labels.method},
                {"status", status == 0 ? "other" : std::to_string(status)}},
               std::to_string(n));
    }
}

void Metrics::render_latency(std::string& out) const {
    family(out, kDuration, "histogram",
           "Time from a request's header to its answer's last byte, by listener, route and "
           "method.");
    const std::string bucket = std::string(kDuration) + "_bucket";
    const std::string sum = std::string(kDuration) + "_sum";
    const std::string count = std::string(kDuration) + "_count";
    for (std::size_t slot = 0; slot < latency_.size(); ++slot) {
        const auto seen = latency_[slot].snapshot();
        if (seen.count() == 0) continue;  // a route and method never asked for
        const auto [listener, route, method] = slot_labels(slot);
        for (std::size_t i = 0; i < seen.cumulative.size(); ++i) {
            const auto le = i < LatencyHistogram::kBoundsMs.size()
                                ? number(LatencyHistogram::kBoundsMs[i] / 1000.0)
                                : std::string("+Inf");
            sample(out, bucket,
                   {{"listener", listener}, {"route", route}, {"method", method}, {"le", le}},
                   std::to_string(seen.cumulative[i]));
        }
        sample(out, sum, {{"listener", listener}, {"route", route}, {"method", method}},
               number(seen.sum_seconds));
        sample(out, count, {{"listener", listener}, {"route", route}, {"method", method}},
               std::to_string(seen.count()));
    }
}

void Metrics::render_store_errors(std::string& out) const {
    constexpr std::string_view kName = "audiodrop_store_errors_total";
    family(out, kName, "counter",
           "Requests answered with an error because a store failed, by store and kind.");
    for (std::size_t s = 0; s < kStores; ++s) {
        for (std::size_t k = 0; k < kStoreFailureKinds; ++k) {
            sample(out, kName,
                   {{"store", store_label(static_cast<StoreFailure::Store>(s))},
                    {"kind", store_failure_label(static_cast<StoreFailure::Kind>(k))}},
                   std::to_string(
                       store_errors_[s * kStoreFailureKinds + k].load(std::memory_order_relaxed)));
        }
    }
}

void Metrics::render_pools(std::string& out) const {
    if (pools_.empty()) return;
    struct Series {
        const char* name;
        const char* type;
        const char* help;
        std::uint64_t (*value)(const core::WorkerPool::Stats&, const core::WorkerPool&);
    };
    static constexpr Series kSeries[] = {
        {"audiodrop_worker_threads", "gauge", "Threads of each worker pool.",
         [](const core::WorkerPool::Stats&, const core::WorkerPool& p) -> std::uint64_t {
             return p.threads();
         }},
        {"audiodrop_worker_busy", "gauge", "Threads of each worker pool running a task.",
         [](const core::WorkerPool::Stats& s, const core::WorkerPool&) -> std::uint64_t {
             return s.running;
         }},
        {"audiodrop_worker_queued", "gauge", "Tasks waiting for a worker, by pool.",
         [](const core::WorkerPool::Stats& s, const core::WorkerPool&) -> std::uint64_t {
             return s.queued;
         }},
        {"audiodrop_worker_queue_limit", "gauge",
         "Tasks each pool's queue holds at most; past it new work is refused.",
         [](const core::WorkerPool::Stats&, const core::WorkerPool& p) -> std::uint64_t {
             return p.max_queued();
         }},
        {"audiodrop_worker_completed_total", "counter", "Tasks each worker pool has run.",
         [](const core::WorkerPool::Stats& s, const core::WorkerPool&) { return s.completed; }},
        {"audiodrop_worker_refused_total", "counter",
         "Tasks refused because the pool's queue was full (answered 503 server_busy).",
         [](const core::WorkerPool::Stats& s, const core::WorkerPool&) { return s.refused; }},
    };
    std::vector<core::WorkerPool::Stats> stats;
    for (const auto* p : pools_) stats.push_back(p->stats());
    for (const auto& series : kSeries) {
        family(out, series.name, series.type, series.help);
        for (std::size_t i = 0; i < pools_.size(); ++i) {
            sample(out, series.name, {{"pool", pools_[i]->name()}},
                   std::to_string(series.value(stats[i], *pools_[i])));
        }
    }
}

void Metrics::add_external(ExternalCounter counter) {
    const auto family_of = [](const std::string& series) {
        return std::string_view(series).substr(0, series.find('{'));
    };
    const auto family = family_of(counter.series);
    const auto last_of_family =
        std::find_if(counters_.rbegin(), counters_.rend(),
                     [&](const ExternalCounter& c) { return family_of(c.series) == family; });
    const auto at = last_of_family == counters_.rend() ? counters_.end() : last_of_family.base();
    counters_.insert(at, std::move(counter));
}

void Metrics::render_external(std::string& out) const {
    std::string_view last_name;
    for (const auto& c : counters_) {
        const std::string_view name = std::string_view(c.series).substr(0, c.series.find('{'));
        if (name != last_name) {  // one HELP and TYPE per metric, before its first series
            family(out, name, c.type, c.help);
            last_name = name;
        }
        out += c.series + " " + number(c.read()) + "\n";
    }
}

}  // namespace audiodrop::http
