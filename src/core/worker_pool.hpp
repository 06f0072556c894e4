#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <type_traits>
#include <utility>
#include <vector>

namespace audiodrop::core {

// A move-only unit of work (a std::function must be copyable; completion handlers
// are not).
class Task {
  public:
    Task() = default;
    template <class F>
    requires(!std::is_same_v<std::decay_t<F>, Task>) Task(F&& f)  // NOLINT: implicit on purpose
        : impl_(std::make_unique<Impl<std::decay_t<F>>>(std::forward<F>(f))) {}

    explicit operator bool() const { return impl_ != nullptr; }
    void operator()() { impl_->run(); }

  private:
    struct Base {
        virtual ~Base() = default;
        virtual void run() = 0;
    };
    template <class F>
    struct Impl final : Base {
        explicit Impl(F&& f) : fn(std::move(f)) {}
        explicit Impl(const F& f) : fn(f) {}
        void run() override { fn(); }
        F fn;
    };
    std::unique_ptr<Base> impl_;
};

// A fixed set of threads serving one bounded queue. Blocking work (disk, the database,
// hashing, argon2, calls to S3) runs here so that the network threads never wait on
// it; each kind of work has its own pool, so a slow disk does not hold up the
// database and a flood of logins does not hold up uploads.
//
// The queue holds at most `max_queued` tasks: try_submit refuses beyond that, and the
// caller answers "busy, retry" instead of letting the queue, and the wait, grow
// without bound. submit() is for work already admitted (the rest of a part whose
// first bytes were accepted), which must not be refused halfway.
//
// Thread-safe. Tasks must not throw.
class WorkerPool {
  public:
    struct Options {
        std::string name;
        unsigned threads = 1;
        std::size_t max_queued = 1024;
        // Niceness of the pool's threads (0 = as the process). Bulk work (hashing)
        // runs a little below the network threads, so a request that needs a
        // millisecond is not queued behind seconds of CPU.
        int nice = 0;
    };

    struct Stats {
        std::size_t queued = 0;
        std::size_t running = 0;
        std::uint64_t completed = 0;
        std::uint64_t refused = 0;
    };

    explicit WorkerPool(Options options);
    ~WorkerPool();
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;

    // Queues `task` unless the queue is full. On success the pool takes it (`task` is
    // left empty); on refusal `task` stays with the caller, who still owns whatever it
    // holds.
    [[nodiscard]] bool try_submit(Task& task);
    // Queues `task` whatever the queue's length.
    void submit(Task task);

    // Lets running tasks finish, destroys queued ones unrun, joins the threads.
    // Idempotent, and any caller returns only once the threads are gone; not to be
    // called from a task of this pool. Submissions after stop are refused (try_submit)
    // or dropped (submit).
    void stop();

    const std::string& name() const { return options_.name; }
    unsigned threads() const { return options_.threads; }
    std::size_t max_queued() const { return options_.max_queued; }
    Stats stats() const;

  private:
    struct Queued {
        Task task;
        std::string request_id;  // current when it was queued
    };

    void run();

    Options options_;
    std::mutex stop_mutex_;  // held for all of stop(): serialises callers
    mutable std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Queued> queue_;
    bool stopping_ = false;
    std::size_t running_ = 0;
    std::uint64_t completed_ = 0;
    std::uint64_t refused_ = 0;
    std::vector<std::thread> threads_;
};

}  // namespace audiodrop::core
