#include "auth/shared_rate_limiter.hpp"

#include <algorithm>

namespace audiodrop::auth {

SharedRateLimiter::SharedRateLimiter(metadata::MetadataStore& store, const core::Clock& clock,
                                     unsigned limit, std::chrono::seconds window, std::string scope)
    : store_(store), clock_(clock), limit_(limit), window_(window), scope_(std::move(scope)) {}

core::Result<std::optional<std::chrono::seconds>> SharedRateLimiter::acquire(
    const std::string& key) {
    const std::int64_t now = core::to_unix(clock_.now());
    const std::int64_t window = window_.count();
    const std::int64_t window_start = now - now % window;
    const std::chrono::seconds until_next{std::max<std::int64_t>(window_start + window - now, 1)};
    if (limit_ == 0) return std::optional(until_next);

    // Once a window, some replica drops the keys idle since the one before, so the
    // table holds only the keys active lately. A failure here costs nothing but space.
    std::int64_t last = last_forget_.load();
    if (now - last >= window && last_forget_.compare_exchange_strong(last, now)) {
        (void)store_.forget_request_counts(core::from_unix(window_start - window));
    }
    AUDIODROP_TRY_ASSIGN(auto count,
                         store_.count_request(scope_ + ":" + key, core::from_unix(window_start)));
    if (count <= limit_) return std::optional<std::chrono::seconds>();
    return std::optional(until_next);
}

}  // namespace audiodrop::auth
