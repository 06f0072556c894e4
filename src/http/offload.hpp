#pragma once

// Moves a blocking call off the network threads: `co_await offload(pool, work)` runs
// `work` on a worker pool and resumes the coroutine on its own executor (the
// connection's strand) with work's result. The network thread is free meanwhile.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "core/worker_pool.hpp"

namespace audiodrop::http {

namespace asio = boost::asio;

// What a caller gets when a pool's queue is full: 503 with a short Retry-After.
inline core::Error server_busy(const core::WorkerPool& pool) {
    auto e = core::make_error(
        core::ErrorKind::unavailable, "server_busy",
        "the server is busy (" + pool.name() + " work queue full); retry in a second",
        core::Reason::server_busy);
    e.retry_after_seconds = 1;
    return e;
}

enum class Admission {
    // Refused with server_busy when the pool's queue is full: for new work.
    bounded,
    // Always queued: for the rest of work already admitted (a part's later chunks).
    admitted,
};

namespace detail {

// One offloaded call: the work, and the handler that resumes the coroutine. The
// handler holds the coroutine, so it must be invoked or destroyed exactly once.
template <class R, class Work, class Handler>
struct OffloadJob {
    Work work;
    Handler handler;
    asio::executor_work_guard<asio::associated_executor_t<Handler>> guard;

    void resume(R result) {
        auto executor = guard.get_executor();
        asio::post(executor, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
        });
    }
};

}  // namespace detail

// `work` returns a core::Result<T>, and so does the offload: work's own result, or
// server_busy when `admission` is bounded and the pool's queue is full.
template <class Work, class R = std::invoke_result_t<Work&>>
asio::awaitable<R> offload(core::WorkerPool& pool, Work work,
                           Admission admission = Admission::bounded) {
    auto initiate = [&pool, admission](auto handler, Work work) {
        using Job = detail::OffloadJob<R, Work, decltype(handler)>;
        auto executor = asio::get_associated_executor(handler);
        auto job = std::make_unique<Job>(
            Job{std::move(work), std::move(handler), asio::make_work_guard(executor)});
        Job* raw = job.get();
        core::Task task = [job = std::move(job)]() mutable { job->resume(job->work()); };
        if (admission == Admission::admitted) {
            pool.submit(std::move(task));
        } else if (!pool.try_submit(task)) {
            raw->resume(server_busy(pool));  // `task` still owns the job; it goes with it
        }
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        initiate, asio::use_awaitable, std::move(work));
}

}  // namespace audiodrop::http
