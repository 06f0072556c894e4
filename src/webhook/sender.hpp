#pragma once

// One webhook delivery attempt: a blocking HTTP POST with hard limits, for the service's
// delivery workers. Retries, backoff and bookkeeping belong to the caller.
//
// Guarantees, whatever the receiver does:
//  - it never connects to an internal address (see destination.hpp) unless
//    policy.allow_private: every address is checked when its socket is opened, after DNS,
//    so a name re-pointed at an internal address (DNS rebinding) is refused too;
//  - it never follows a redirect (a 3xx is just its status), never uses a proxy from the
//    environment, speaks only https (and http with policy.allow_http);
//  - it returns within options.timeout, however slowly the receiver sends headers or body;
//  - it reads at most max_response_bytes of body (discarded) and kMaxResponseHeaderBytes
//    of headers.
//
// Thread-safe: any number of sends at once; each uses its own connection (no reuse, so
// one subscription's connection is never another's).

#include <chrono>
#include <cstddef>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "webhook/destination.hpp"

namespace audiodrop::webhook {

inline constexpr std::size_t kMaxResponseHeaderBytes = 64 * 1024;

struct SendOptions {
    std::chrono::milliseconds timeout{10000};  // the whole attempt, connect included
    std::size_t max_response_bytes = 64 * 1024;
    DestinationPolicy policy;
    std::string user_agent = "audiodrop-webhooks/0.1";
};

struct SendResult {
    long status = 0;  // 0 when no HTTP answer
    // Empty on a complete HTTP answer; else a sentence: "timed out after 10 s",
    // "connection refused", "refused: 10.0.0.1 is a private address",
    // "response over 65536 bytes", ... (status may still be set when the answer began).
    std::string error;

    bool delivered() const { return error.empty() && status >= 200 && status < 300; }
};

// POSTs `body` with Content-Type: application/json and `headers` (names and values
// without CR or LF, else refused without sending) to `url`, which must pass
// check_url_syntax(url, options.policy). Blocking.
SendResult post_json(const std::string& url,
                     const std::vector<std::pair<std::string, std::string>>& headers,
                     std::string_view body, const SendOptions& options);

}  // namespace audiodrop::webhook
