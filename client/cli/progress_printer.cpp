#include "progress_printer.hpp"

#include <string>

namespace audiodrop::cli {
namespace {

std::string human_bytes(double bytes) {
    static constexpr const char* kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit == 0 ? "%.0f %s" : "%.1f %s", bytes, kUnits[unit]);
    return text;
}

std::string human_duration(double seconds) {
    const auto s = static_cast<long>(seconds + 0.5);
    char text[32];
    if (s >= 3600) {
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    } else {
        std::snprintf(text, sizeof text, "%ld:%02ld", s / 60, s % 60);
    }
    return text;
}

}  // namespace

ProgressPrinter::ProgressPrinter(std::FILE* out, bool terminal)
    : out_(out), terminal_(terminal), started_(std::chrono::steady_clock::now()) {}

void ProgressPrinter::update(const client::UploadProgress& p) {
    std::lock_guard lock(mutex_);
    const auto now = std::chrono::steady_clock::now();
    const bool last = p.parts_done == p.parts_total;
    const auto interval = terminal_ ? std::chrono::milliseconds(100) : std::chrono::seconds(2);
    if (!last && now - last_print_ < interval) return;
    last_print_ = now;

    const double elapsed = std::chrono::duration<double>(now - started_).count();
    const double sent = static_cast<double>(p.bytes_done);
    const double rate = elapsed > 0 ? sent / elapsed : 0;
    const double left = static_cast<double>(p.bytes_total - p.bytes_done);
    const std::string eta = rate > 0 ? human_duration(left / rate) : "--:--";
    const double fraction =
        p.bytes_total ? static_cast<double>(p.bytes_done) / static_cast<double>(p.bytes_total) : 1;
    const std::string summary = human_bytes(static_cast<double>(p.bytes_done)) + " / " +
                                human_bytes(static_cast<double>(p.bytes_total)) + "  " +
                                human_bytes(rate) + "/s  ETA " + eta;
    if (terminal_) {
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(fraction * kWidth);
        std::string bar(static_cast<std::size_t>(filled), '#');
        bar.append(static_cast<std::size_t>(kWidth - filled), '-');
        std::fprintf(out_, "\r[%s] %3d%%  %s   ", bar.c_str(), static_cast<int>(fraction * 100),
                     summary.c_str());
        drew_bar_ = true;
    } else {
        std::fprintf(out_, "upload: %d%% (%u/%u parts)  %s\n", static_cast<int>(fraction * 100),
                     p.parts_done, p.parts_total, summary.c_str());
    }
    std::fflush(out_);
}

void ProgressPrinter::finish() {
    std::lock_guard lock(mutex_);
    if (drew_bar_) std::fputc('\n', out_);
    drew_bar_ = false;
}

}  // namespace audiodrop::cli
