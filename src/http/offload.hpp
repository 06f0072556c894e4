#pragma once

// Moves a blocking call off the network threads: `co_await offload(pool, request_id,
// work)` runs `work` on a worker pool and resumes the coroutine on its own executor (the
// connection's strand) with work's result. The network thread is free meanwhile. The
// work runs as request `request_id` (core/request_context.hpp): what it calls, and
// what it queues in turn, can name the request without being handed its id.

#include <boost/asio/associated_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <string_view>
#include <type_traits>
#include <utility>

#include "core/error.hpp"
#include "core/request_context.hpp"
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

// Hands a result back to a suspended coroutine: its handler, run on its own executor.
// The handler holds the coroutine, so it must be resumed or destroyed exactly once.
template <class R, class Handler>
struct Resumer {
    Handler handler;
    asio::executor_work_guard<asio::associated_executor_t<Handler>> guard;

    void resume(R result) {
        auto executor = guard.get_executor();
        asio::post(executor, [handler = std::move(handler), result = std::move(result)]() mutable {
            std::move(handler)(std::move(result));
        });
    }
};

template <class R, class Handler>
Resumer<R, Handler> resumer(Handler handler) {
    auto executor = asio::get_associated_executor(handler);
    return Resumer<R, Handler>{std::move(handler), asio::make_work_guard(executor)};
}

}  // namespace detail

// `work` returns a core::Result<T>, and so does the offload: work's own result, or
// server_busy when `admission` is bounded and the pool's queue is full.
template <class Work, class R = std::invoke_result_t<Work&>>
asio::awaitable<R> offload(core::WorkerPool& pool, std::string_view request_id, Work work,
                           Admission admission = Admission::bounded) {
    auto initiate = [&pool, request_id, admission](auto handler, Work work) {
        // Owned by the task; still ours when the pool refuses it.
        auto job = std::make_unique<std::pair<Work, detail::Resumer<R, decltype(handler)>>>(
            std::move(work), detail::resumer<R>(std::move(handler)));
        auto* raw = job.get();
        core::Task task = [job = std::move(job)]() mutable { job->second.resume(job->first()); };
        const core::RequestScope scope(request_id);  // the pool tags the task with it
        if (admission == Admission::admitted) {
            pool.submit(std::move(task));
        } else if (!pool.try_submit(task)) {
            raw->second.resume(server_busy(pool));  // `task` still owns the job
        }
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        initiate, asio::use_awaitable, std::move(work));
}

// For work that answers later, through a callback: `start(done)` runs on `pool` and
// arranges for done(R) to be called once, from any thread (a store's own), without
// blocking; the coroutine resumes on its own executor with that R. The worker is free
// as soon as start returns. server_busy as offload() when the pool's queue is full;
// start runs as request `request_id`, as offload's work does.
template <class R, class Start>
asio::awaitable<R> offload_until_answered(core::WorkerPool& pool, std::string_view request_id,
                                          Start start) {
    auto initiate = [&pool, request_id](auto handler, Start start) {
        // Shared: done() may come from any thread, after the task is gone.
        auto waiting = std::make_shared<detail::Resumer<R, decltype(handler)>>(
            detail::resumer<R>(std::move(handler)));
        core::Task task = [start = std::move(start), waiting]() mutable {
            start([waiting](R result) { waiting->resume(std::move(result)); });
        };
        const core::RequestScope scope(request_id);
        if (!pool.try_submit(task)) waiting->resume(server_busy(pool));
    };
    co_return co_await asio::async_initiate<const asio::use_awaitable_t<>&, void(R)>(
        initiate, asio::use_awaitable, std::move(start));
}

}  // namespace audiodrop::http
