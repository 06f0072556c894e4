#pragma once

// One libcurl easy handle: requests made through it reuse its kept-alive connections.
// Not thread-safe: each worker thread owns its own HttpSession.

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "audiodrop/client.hpp"

namespace audiodrop::client {

struct HttpRequest {
    std::string method = "GET";
    std::string url;
    std::vector<std::string> headers;  // "Name: value"
    std::string_view body;             // sent as-is; must outlive the call
    // Or a body of body_size bytes pulled as curl sends it: read_body(offset, out) fills
    // `out` with the bytes at `offset` and returns how many (0 before the end fails the
    // transfer). A file streamed this way is never held in memory.
    std::uint64_t body_size = 0;
    std::function<std::size_t(std::uint64_t offset, std::span<char> out)> read_body;
    // When set, the body of a 2xx answer is handed here in pieces instead of being kept
    // in HttpResponse::body; returning false aborts the transfer.
    std::function<bool(std::string_view)> on_body;
    // Raised: the transfer is abandoned within about a second (ErrorKind::cancelled).
    const std::atomic<bool>* cancel = nullptr;
    // Bytes of the body sent so far in this attempt (starts again at 0 on a retry).
    std::function<void(std::uint64_t)> on_sent;
};

struct HttpResponse {
    long status = 0;
    std::map<std::string, std::string> headers;  // names lowercased; last one wins
    std::string body;
};

class HttpSession {
  public:
    explicit HttpSession(const ClientOptions& options);
    ~HttpSession();
    HttpSession(const HttpSession&) = delete;
    HttpSession& operator=(const HttpSession&) = delete;

    // Any HTTP answer is a value (4xx/5xx included); only a failure to get one (DNS,
    // connect, reset, timeout, a refused sink) is an ErrorKind::network error.
    Result<HttpResponse> perform(const HttpRequest& request);

  private:
    void* handle_;  // CURL*, kept opaque so curl.h stays out of this header
    const ClientOptions& options_;
};

}  // namespace audiodrop::client
