#pragma once

// When and how long to wait before retrying a request. Pure functions, so the schedule
// is tested without a network.

#include <atomic>
#include <chrono>
#include <optional>
#include <random>
#include <string_view>

#include "audiodrop/client.hpp"
#include "http_session.hpp"

namespace audiodrop::client {

// 429 and every 5xx are worth retrying; other statuses are final.
bool is_retryable_status(long status);

// Delay before retry number `retry` (1 for the first retry): "equal jitter" over an
// exponential ceiling, min(max_delay, base_delay * 2^(retry-1)), so the delay lies in
// [ceiling/2, ceiling]. `unit` is a random draw in [0, 1).
std::chrono::milliseconds backoff_delay(const RetryPolicy& policy, int retry, double unit);

// RFC 9110 Retry-After: delta-seconds or an IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT")
// read against `now`. nullopt when unparsable; a date in the past gives zero.
std::optional<std::chrono::seconds> parse_retry_after(std::string_view value,
                                                      std::chrono::system_clock::time_point now);

// Performs `request` until it gets a final answer: a network error, 429 or 5xx is retried
// per `policy` (Retry-After honoured, capped at max_delay * 6); the last answer or error
// is returned. `before_attempt` runs before each try (e.g. to truncate an output file).
Result<HttpResponse> perform_with_retry(HttpSession& session, const HttpRequest& request,
                                        const RetryPolicy& policy, std::mt19937_64& rng,
                                        const std::atomic<bool>* cancel = nullptr,
                                        const std::function<bool()>& before_attempt = {});

}  // namespace audiodrop::client
