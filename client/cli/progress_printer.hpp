#pragma once

// Upload progress for people: a redrawn bar on a terminal (bytes, rate, ETA), a plain
// line every two seconds otherwise (logs, CI). Thread-safe: workers report concurrently.

#include <chrono>
#include <cstdio>
#include <mutex>

#include "audiodrop/client.hpp"

namespace audiodrop::cli {

class ProgressPrinter {
  public:
    ProgressPrinter(std::FILE* out, bool terminal);
    void update(const client::UploadProgress& progress);
    // Ends the bar's line on a terminal.
    void finish();

  private:
    std::FILE* out_;
    bool terminal_;
    std::mutex mutex_;
    std::chrono::steady_clock::time_point started_;
    std::chrono::steady_clock::time_point last_print_{};
    bool drew_bar_ = false;
};

}  // namespace audiodrop::cli
