#include "core/worker_pool.hpp"

#include <pthread.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "core/request_context.hpp"

namespace audiodrop::core {

WorkerPool::WorkerPool(Options options) : options_(std::move(options)) {
    if (options_.threads == 0) options_.threads = 1;
    threads_.reserve(options_.threads);
    for (unsigned i = 0; i < options_.threads; ++i) {
        threads_.emplace_back([this, i] {
            // Linux names threads in top and perf: "pool-name/3" (15 characters at most).
            const std::string label = (options_.name + "/" + std::to_string(i)).substr(0, 15);
            pthread_setname_np(pthread_self(), label.c_str());
            if (options_.nice != 0) {
                // Per thread on Linux: the tid names just this thread. Best effort.
                const auto tid = static_cast<id_t>(::syscall(SYS_gettid));
                (void)::setpriority(PRIO_PROCESS, tid, options_.nice);
            }
            run();
        });
    }
}

WorkerPool::~WorkerPool() { stop(); }

bool WorkerPool::try_submit(Task& task) {
    std::string request_id = current_request_id();
    {
        std::lock_guard lock(mutex_);
        if (stopping_ || queue_.size() >= options_.max_queued) {
            ++refused_;
            return false;
        }
        queue_.push_back(Queued{std::move(task), std::move(request_id)});
    }
    wake_.notify_one();
    return true;
}

void WorkerPool::submit(Task task) {
    std::string request_id = current_request_id();
    {
        std::lock_guard lock(mutex_);
        if (stopping_) return;
        queue_.push_back(Queued{std::move(task), std::move(request_id)});
    }
    wake_.notify_one();
}

void WorkerPool::run() {
    for (;;) {
        Queued next;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
            if (stopping_) return;
            next = std::move(queue_.front());
            queue_.pop_front();
            ++running_;
        }
        {
            const RequestScope scope(next.request_id);
            next.task();
            next.task = Task();  // what it held goes before the next one starts
        }
        std::lock_guard lock(mutex_);
        --running_;
        ++completed_;
    }
}

void WorkerPool::stop() {
    // A second caller waits here until the first has joined every thread.
    std::lock_guard stopping(stop_mutex_);
    std::deque<Queued> dropped;
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
        dropped.swap(queue_);
    }
    wake_.notify_all();
    for (auto& t : threads_) {
        if (t.joinable()) t.join();
    }
    threads_.clear();
    // `dropped` is destroyed here, outside the lock: a task's captures may submit.
}

WorkerPool::Stats WorkerPool::stats() const {
    std::lock_guard lock(mutex_);
    return Stats{queue_.size(), running_, completed_, refused_};
}

}  // namespace audiodrop::core
