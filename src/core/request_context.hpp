#pragma once

// The HTTP request a thread is working for, so that what it calls deep down (the S3
// client's outbound requests, the events a change writes) can name that request
// without every interface in between taking one more parameter.
//
// Per thread: a network thread serves many requests by turns, so only a RequestScope
// sets it, around work that runs to its end without yielding; a WorkerPool hands the
// id current when a task is queued to the thread that runs it (core/worker_pool.hpp).

#include <string>
#include <string_view>

namespace audiodrop::core {

// The id of the request this thread works for; empty for work no request asked for
// (sweeps, webhook deliveries, start-up).
const std::string& current_request_id();

// Makes `request_id` current on this thread for the scope's life, then restores what
// was current before. Not to be held across a coroutine's suspension.
class RequestScope {
  public:
    explicit RequestScope(std::string_view request_id);
    ~RequestScope();
    RequestScope(const RequestScope&) = delete;
    RequestScope& operator=(const RequestScope&) = delete;

  private:
    std::string previous_;
};

}  // namespace audiodrop::core
