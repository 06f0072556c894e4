#pragma once

// Turns SIGINT/SIGTERM into a raised flag the upload polls, with neither a signal handler
// nor a global: the signals are blocked in the constructing thread (threads started later
// inherit the mask) and one watcher thread takes them with sigwait(). A second interrupt
// exits at once, for someone who does not want to wait for parts in flight.
//
// Construct it before starting any other thread.

#include <pthread.h>
#include <signal.h>

#include <atomic>
#include <thread>

namespace audiodrop::cli {

class InterruptWatcher {
  public:
    InterruptWatcher();
    ~InterruptWatcher();
    InterruptWatcher(const InterruptWatcher&) = delete;
    InterruptWatcher& operator=(const InterruptWatcher&) = delete;

    const std::atomic<bool>& raised() const { return raised_; }

  private:
    void watch();

    std::atomic<bool> raised_{false};
    sigset_t watched_{};
    sigset_t previous_{};
    std::thread thread_;
};

}  // namespace audiodrop::cli
