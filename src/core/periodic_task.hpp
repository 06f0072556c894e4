#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

namespace audiodrop::core {

// Runs `step` every `interval` on a thread of its own, from one interval after
// construction until stop() (or destruction), which waits for a step under way;
// wake() runs it early.
class PeriodicTask {
  public:
    PeriodicTask(std::chrono::milliseconds interval, std::function<void()> step);
    ~PeriodicTask();
    PeriodicTask(const PeriodicTask&) = delete;
    PeriodicTask& operator=(const PeriodicTask&) = delete;

    void stop();
    // Runs the step as soon as the thread is free (once, however often called until
    // then), and the next interval counts from there. Never blocks on the step.
    void wake();

  private:
    void run();

    std::chrono::milliseconds interval_;
    std::function<void()> step_;
    std::mutex mutex_;
    std::condition_variable wake_;
    bool stopping_ = false;
    bool woken_ = false;
    std::thread thread_;  // last: starts once the members it reads exist
};

}  // namespace audiodrop::core
