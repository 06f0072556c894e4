#pragma once

#include <spdlog/sinks/base_sink.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>

namespace audiodrop::core {

// Log lines gathered in memory and written to stderr by a thread of the sink's own,
// every kInterval or sooner when much is pending: a request never waits on a slow
// stderr, and a busy server does not wake a writer for every line. Should more than
// kMaxPending bytes wait, new lines are dropped (and counted in a line when stderr
// keeps up again) rather than held without bound. Flush and destruction write
// everything out.
class BufferedStderrSink final : public spdlog::sinks::base_sink<std::mutex> {
  public:
    static constexpr std::chrono::milliseconds kInterval{50};
    static constexpr std::size_t kWakeAt = 64 * 1024;
    static constexpr std::size_t kMaxPending = 8 * 1024 * 1024;

    BufferedStderrSink();
    ~BufferedStderrSink() override;

  protected:
    void sink_it_(const spdlog::details::log_msg& msg) override;
    void flush_() override;

  private:
    void run();
    // Takes what is pending (the caller holds `mutex_`, base_sink's).
    std::string take_pending();
    static void write_out(const std::string& bytes);

    std::string pending_;           // guarded by base_sink's mutex_
    std::uint64_t dropped_ = 0;     // guarded by base_sink's mutex_
    std::mutex writer_mutex_;       // one write to stderr at a time, in the order taken
    std::condition_variable wake_;  // with base_sink's mutex_
    bool stopping_ = false;         // guarded by base_sink's mutex_
    std::thread writer_;
};

}  // namespace audiodrop::core
