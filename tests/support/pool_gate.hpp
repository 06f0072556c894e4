#pragma once

// Helpers for tests of code that runs on core::WorkerPool threads: a gate that holds
// every thread of a pool busy until the test opens it, and a bounded wait for a
// condition another thread makes true. Nothing here sleeps a fixed time: every wait
// ends when its condition holds or when its deadline passes, so a bug fails a test
// instead of hanging it.

#include <chrono>
#include <condition_variable>
#include <memory>
#include <mutex>
#include <thread>

#include "core/worker_pool.hpp"

namespace audiodrop::test_support {

// Long enough for a loaded CI machine, short enough that a hang is reported.
inline constexpr std::chrono::seconds kWaitLimit{20};

// Polls `condition` until it holds or `limit` passes; returns whether it held.
template <class Condition>
[[nodiscard]] bool eventually(Condition condition,
                              std::chrono::steady_clock::duration limit = kWaitLimit) {
    const auto deadline = std::chrono::steady_clock::now() + limit;
    while (!condition()) {
        if (std::chrono::steady_clock::now() >= deadline) return condition();
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    return true;
}

// Occupies every thread of a pool with a task that waits for open(), so that what
// the test submits next stays queued. Opens itself when destroyed; its tasks share
// their state, so they may outlive it.
class PoolGate {
  public:
    PoolGate() = default;
    PoolGate(const PoolGate&) = delete;
    PoolGate& operator=(const PoolGate&) = delete;
    ~PoolGate() { open(); }

    // Returns once all of the pool's threads are held (false if they never were):
    // what was queued or running before has finished by then.
    [[nodiscard]] bool close(core::WorkerPool& pool) {
        for (unsigned i = 0; i < pool.threads(); ++i) {
            pool.submit([state = state_] { state->wait(); });
        }
        // The queue is first in, first out: once it is empty, the gate's tasks are the
        // ones running.
        return eventually([&] {
            const auto s = pool.stats();
            return s.queued == 0 && s.running == pool.threads();
        });
    }

    void open() { state_->open(); }

  private:
    struct State {
        std::mutex mutex;
        std::condition_variable opened;
        bool is_open = false;

        void open() {
            {
                std::lock_guard lock(mutex);
                is_open = true;
            }
            opened.notify_all();
        }
        void wait() {
            std::unique_lock lock(mutex);
            // Bounded, so a test that fails before opening the gate still ends.
            opened.wait_for(lock, kWaitLimit, [this] { return is_open; });
        }
    };
    std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace audiodrop::test_support
