#include "retry.hpp"

#include <algorithm>
#include <charconv>
#include <ctime>
#include <iomanip>
#include <locale>
#include <sstream>
#include <string>
#include <thread>

namespace audiodrop::client {

bool is_retryable_status(long status) { return status == 429 || status >= 500; }

std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double unit) {
    const auto base = std::max<std::int64_t>(policy.base_delay.count(), 1);
    const auto cap = std::max<std::int64_t>(policy.max_delay.count(), base);
    std::int64_t ceiling = base;
    for (int i = 1; i < retry && ceiling < cap; ++i) ceiling *= 2;
    ceiling = std::min(ceiling, cap);
    unit = std::clamp(unit, 0.0, 1.0);
    const auto half = ceiling / 2;
    return std::chrono::milliseconds(
        half + static_cast<std::int64_t>(unit * static_cast<double>(ceiling - half)));
}

std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now) {
    while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
    while (!value.empty() && value.back() == ' ') value.remove_suffix(1);
    if (value.empty()) return std::nullopt;
    if (std::all_of(value.begin(), value.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        std::int64_t seconds = 0;
        const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), seconds);
        if (ec != std::errc{} || ptr != value.data() + value.size()) return std::nullopt;
        return std::chrono::seconds(seconds);
    }
    std::tm tm{};
    std::istringstream in{std::string(value)};
    in.imbue(std::locale::classic());
    in >> std::get_time(&tm, "%a, %d %b %Y %H:%M:%S GMT");
    if (in.fail()) return std::nullopt;
    const std::time_t at = timegm(&tm);
    const auto delta = std::chrono::duration_cast<std::chrono::seconds>(
        std::chrono::system_clock::from_time_t(at) - now);
    return std::max(delta, std::chrono::seconds(0));
}

namespace {

// Sleeps in short slices so a raised cancel flag is seen within ~100 ms.
bool sleep_unless_cancelled(std::chrono::milliseconds delay, const std::atomic<bool>* cancel) {
    const auto until = std::chrono::steady_clock::now() + delay;
    while (std::chrono::steady_clock::now() < until) {
        if (cancel != nullptr && cancel->load()) return false;
        std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
            std::chrono::milliseconds(100), until - std::chrono::steady_clock::now()));
    }
    return true;
}

}  // namespace

Result<HttpResponse> perform_with_retry(HttpSession& session, const HttpRequest& request,
                                        const RetryPolicy& policy, std::mt19937_64& rng,
                                        const std::atomic<bool>* cancel,
                                        const std::function<bool()>& before_attempt) {
    std::uniform_real_distribution<double> unit(0.0, 1.0);
    const int attempts = std::max(policy.max_attempts, 1);
    for (int attempt = 1;; ++attempt) {
        if (cancel != nullptr && cancel->load()) {
            return Error{ErrorKind::cancelled, 0, "cancelled", "cancelled"};
        }
        if (before_attempt && !before_attempt()) {
            return Error{ErrorKind::io, 0, "write_failed", "could not prepare the output file"};
        }
        auto result = session.perform(request);
        const bool retryable = result ? is_retryable_status(result->status)
                                      : result.error().kind == ErrorKind::network;
        if (!retryable || attempt >= attempts) return result;

        auto delay = backoff_delay(policy, attempt, unit(rng));
        if (result) {
            const auto it = result->headers.find("retry-after");
            if (it != result->headers.end()) {
                if (auto after = parse_retry_after(it->second, std::chrono::system_clock::now())) {
                    delay = std::min<std::chrono::milliseconds>(*after, policy.max_delay * 6);
                }
            }
        }
        if (!sleep_unless_cancelled(delay, cancel)) {
            return Error{ErrorKind::cancelled, 0, "cancelled", "cancelled"};
        }
    }
}

}  // namespace audiodrop::client
