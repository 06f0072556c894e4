#include "http/metrics.hpp"

#include <charconv>

namespace audiodrop::http {
namespace {

void counter(std::string& out, const char* name, const char* help, std::uint64_t value) {
    out += "# HELP ";
    out += name;
    out += ' ';
    out += help;
    out += "\n# TYPE ";
    out += name;
    out += " counter\n";
    out += name;
    out += ' ';
    out += std::to_string(value);
    out += '\n';
}

// The shortest text that reads back as `value`: "42" for whole numbers, as counters
// of bytes and events are.
std::string number(double value) {
    std::array<char, 32> text{};
    const auto end = std::to_chars(text.data(), text.data() + text.size(), value).ptr;
    return std::string(text.data(), end);
}

}  // namespace

void Metrics::count_request(Listener l, unsigned status) {
    const std::size_t cls = status >= 100 && status < 600 ? status / 100 - 1 : kClasses - 1;
    requests_[static_cast<std::size_t>(l)][cls].fetch_add(1, std::memory_order_relaxed);
}

std::string Metrics::render() const {
    std::string out =
        "# HELP audiodrop_http_requests_total Requests answered, by listener and status class.\n"
        "# TYPE audiodrop_http_requests_total counter\n";
    const char* listeners[] = {"api", "storage"};
    for (std::size_t l = 0; l < 2; ++l) {
        for (std::size_t c = 0; c < kClasses; ++c) {
            out += "audiodrop_http_requests_total{listener=\"";
            out += listeners[l];
            out += "\",code=\"" + std::to_string(c + 1) + "xx\"} ";
            out += std::to_string(requests_[l][c].load(std::memory_order_relaxed));
            out += '\n';
        }
    }
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
    render_pools(out);
    std::string_view last_name;
    for (const auto& c : counters_) {
        const std::string_view name = std::string_view(c.series).substr(0, c.series.find('{'));
        if (name != last_name) {  // one HELP and TYPE per metric, before its first series
            out += "# HELP " + std::string(name) + " " + c.help + "\n# TYPE " + std::string(name) +
                   " " + std::string(c.type) + "\n";
            last_name = name;
        }
        out += c.series + " " + number(c.read()) + "\n";
    }
    return out;
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
        {"audiodrop_worker_refused_total", "counter",
         "Tasks refused because the pool's queue was full (answered 503 server_busy).",
         [](const core::WorkerPool::Stats& s, const core::WorkerPool&) { return s.refused; }},
    };
    std::vector<core::WorkerPool::Stats> stats;
    for (const auto* p : pools_) stats.push_back(p->stats());
    for (const auto& series : kSeries) {
        out += std::string("# HELP ") + series.name + " " + series.help + "\n# TYPE " +
               series.name + " " + series.type + "\n";
        for (std::size_t i = 0; i < pools_.size(); ++i) {
            out += std::string(series.name) + "{pool=\"" + pools_[i]->name() + "\"} " +
                   std::to_string(series.value(stats[i], *pools_[i])) + "\n";
        }
    }
}

}  // namespace audiodrop::http
