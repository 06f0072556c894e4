#include "core/periodic_task.hpp"

namespace audiodrop::core {

PeriodicTask::PeriodicTask(std::chrono::milliseconds interval, std::function<void()> step)
    : interval_(interval), step_(std::move(step)), thread_([this] { run(); }) {}

PeriodicTask::~PeriodicTask() { stop(); }

void PeriodicTask::stop() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void PeriodicTask::wake() {
    {
        std::lock_guard lock(mutex_);
        woken_ = true;
    }
    wake_.notify_all();
}

void PeriodicTask::run() {
    std::unique_lock lock(mutex_);
    for (;;) {
        // Returns on a wake-up or once the interval has passed.
        wake_.wait_for(lock, interval_, [this] { return stopping_ || woken_; });
        if (stopping_) return;
        woken_ = false;
        lock.unlock();
        step_();
        lock.lock();
    }
}

}  // namespace audiodrop::core
