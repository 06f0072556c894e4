#include "http/offload.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/strand.hpp>
#include <functional>
#include <future>
#include <string>
#include <string_view>
#include <thread>

#include "support/pool_gate.hpp"

namespace audiodrop::http {
namespace {

using test_support::eventually;
using test_support::kWaitLimit;
using test_support::PoolGate;
using Strand = asio::strand<asio::io_context::executor_type>;

constexpr std::string_view kRequestId = "req_offload_test";

// What the offloading coroutine saw.
struct Seen {
    std::atomic<bool> work_ran{false};
    std::thread::id work_thread;
    std::string work_request_id;
    std::thread::id resumed_thread;
    std::string resumed_request_id = "unset";
    bool resumed_on_strand = false;
    core::Result<int> result = core::Error{};
};

// A connection's handler, reduced: offload one call, note where it ran and where the
// coroutine went on.
asio::awaitable<void> offload_once(core::WorkerPool& pool, Admission admission, Strand strand,
                                   Seen& seen) {
    seen.result = co_await offload(
        pool, kRequestId,
        [&seen] {
            seen.work_thread = std::this_thread::get_id();
            seen.work_request_id = core::current_request_id();
            seen.work_ran = true;
            return core::Result<int>(42);
        },
        admission);
    seen.resumed_thread = std::this_thread::get_id();
    seen.resumed_request_id = core::current_request_id();
    seen.resumed_on_strand = strand.running_in_this_thread();
}

// The same with work that answers later: start() parks its callback in `parked`, and
// whoever calls it (from any thread) resumes the coroutine.
using Answer = std::function<void(core::Result<int>)>;
asio::awaitable<void> answered_later_once(core::WorkerPool& pool, Strand strand, Seen& seen,
                                          std::promise<Answer>& parked) {
    seen.result =
        co_await offload_until_answered<core::Result<int>>(pool, kRequestId, [&](Answer done) {
            seen.work_thread = std::this_thread::get_id();
            seen.work_request_id = core::current_request_id();
            seen.work_ran = true;
            parked.set_value(std::move(done));
        });
    seen.resumed_thread = std::this_thread::get_id();
    seen.resumed_on_strand = strand.running_in_this_thread();
}

class OffloadTest : public ::testing::Test {
  protected:
    // Runs offload_once on a strand of an io_context that one thread serves, calls
    // `meanwhile` from the test's thread, and waits (bounded) for the coroutine to end.
    void run(Admission admission, const std::function<void()>& meanwhile = {}) {
        run_coroutine([&](Strand strand) { return offload_once(pool_, admission, strand, seen_); },
                      meanwhile);
    }

    void run_coroutine(const std::function<asio::awaitable<void>(Strand)>& coroutine,
                       const std::function<void()>& meanwhile) {
        asio::io_context ioc;
        Strand strand = asio::make_strand(ioc);
        std::promise<void> ended;
        asio::co_spawn(strand, coroutine(strand), [&](std::exception_ptr e) {
            EXPECT_FALSE(e) << "the coroutine threw";
            ended.set_value();
        });
        std::thread io([&] { ioc.run(); });
        io_thread_ = io.get_id();
        if (meanwhile) meanwhile();
        const bool done = ended.get_future().wait_for(kWaitLimit) == std::future_status::ready;
        EXPECT_TRUE(done) << "the coroutine never ended";
        if (!done) {
            pool_.stop();  // nothing may resume on the io_context once it is gone
            ioc.stop();
        }
        io.join();
    }

    // Holds the pool's one thread and fills its one place in the queue.
    void fill_pool() {
        ASSERT_TRUE(gate_.close(pool_));
        core::Task queued = [] {};
        ASSERT_TRUE(pool_.try_submit(queued));
    }

    void expect_resumed_on_the_io_strand() const {
        EXPECT_EQ(seen_.resumed_thread, io_thread_);
        EXPECT_TRUE(seen_.resumed_on_strand);
    }

    core::WorkerPool pool_{core::WorkerPool::Options{"disk", 1, 1, 0}};
    PoolGate gate_;  // after the pool: opened before the pool joins its thread
    Seen seen_;
    std::thread::id io_thread_;
};

TEST_F(OffloadTest, WorkRunsOnAPoolThreadAndTheCoroutineResumesOnItsStrand) {
    run(Admission::bounded);
    ASSERT_TRUE(seen_.result.has_value());
    EXPECT_EQ(*seen_.result, 42);
    EXPECT_NE(seen_.work_thread, io_thread_);
    EXPECT_NE(seen_.work_thread, std::this_thread::get_id());
    expect_resumed_on_the_io_strand();
}

TEST_F(OffloadTest, WorkRunsAsTheRequestThatOffloadedIt) {
    run(Admission::bounded);
    EXPECT_EQ(seen_.work_request_id, kRequestId);
    // The network thread goes back to working for no request once the work is queued.
    EXPECT_EQ(seen_.resumed_request_id, "");
}

TEST_F(OffloadTest, AFullPoolAnswersServerBusyWithoutRunningTheWork) {
    ASSERT_NO_FATAL_FAILURE(fill_pool());

    run(Admission::bounded);
    ASSERT_FALSE(seen_.result.has_value());
    const auto& e = seen_.result.error();
    EXPECT_EQ(e.kind, core::ErrorKind::unavailable);
    EXPECT_EQ(e.code, "server_busy");
    EXPECT_EQ(e.reason, core::Reason::server_busy);
    EXPECT_EQ(e.retry_after_seconds, 1);
    EXPECT_NE(e.message.find("disk"), std::string::npos);  // names the pool
    EXPECT_FALSE(seen_.work_ran);
    EXPECT_EQ(pool_.stats().refused, 1u);
    expect_resumed_on_the_io_strand();
}

TEST_F(OffloadTest, AdmittedWorkQueuesEvenWhenThePoolIsFull) {
    ASSERT_NO_FATAL_FAILURE(fill_pool());

    run(Admission::admitted, [&] {
        EXPECT_TRUE(eventually([&] { return pool_.stats().queued == 2; }));
        EXPECT_FALSE(seen_.work_ran);  // it waits its turn
        gate_.open();
    });
    ASSERT_TRUE(seen_.result.has_value());
    EXPECT_EQ(*seen_.result, 42);
    EXPECT_EQ(pool_.stats().refused, 0u);
    EXPECT_NE(seen_.work_thread, io_thread_);
    expect_resumed_on_the_io_strand();
}

TEST_F(OffloadTest, WorkAnsweredLaterResumesTheCoroutineWithTheAnswerOnItsStrand) {
    std::promise<Answer> parked;
    run_coroutine([&](Strand strand) { return answered_later_once(pool_, strand, seen_, parked); },
                  [&] {
                      auto answer = parked.get_future();
                      ASSERT_EQ(answer.wait_for(kWaitLimit), std::future_status::ready);
                      // The pool's thread is free again before the answer comes.
                      EXPECT_TRUE(eventually([&] { return pool_.stats().running == 0; }));
                      answer.get()(core::Result<int>(7));  // from the test's own thread
                  });
    ASSERT_TRUE(seen_.result.has_value());
    EXPECT_EQ(*seen_.result, 7);
    EXPECT_EQ(seen_.work_request_id, kRequestId);
    EXPECT_NE(seen_.work_thread, io_thread_);
    expect_resumed_on_the_io_strand();
}

TEST_F(OffloadTest, WorkAnsweredLaterIsRefusedByAFullPool) {
    ASSERT_NO_FATAL_FAILURE(fill_pool());
    std::promise<Answer> parked;
    run_coroutine([&](Strand strand) { return answered_later_once(pool_, strand, seen_, parked); },
                  {});
    ASSERT_FALSE(seen_.result.has_value());
    EXPECT_EQ(seen_.result.error().reason, core::Reason::server_busy);
    EXPECT_FALSE(seen_.work_ran);
    expect_resumed_on_the_io_strand();
}

}  // namespace
}  // namespace audiodrop::http
