#include "core/worker_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>

#include "core/request_context.hpp"
#include "support/pool_gate.hpp"

namespace audiodrop::core {
namespace {

using test_support::eventually;
using test_support::PoolGate;

WorkerPool::Options options(unsigned threads, std::size_t max_queued = 1024) {
    return WorkerPool::Options{"test", threads, max_queued, 0};
}

// A task's captures: whether it ran, and (through `alive`) whether it still exists.
struct Probe {
    std::shared_ptr<std::atomic<bool>> ran = std::make_shared<std::atomic<bool>>(false);
    std::shared_ptr<int> token = std::make_shared<int>(0);
    std::weak_ptr<int> alive = token;

    // A task that holds the only other reference to `token`.
    Task task() {
        return [ran = ran, token = std::exchange(token, nullptr)] { *ran = true; };
    }
};

TEST(WorkerPool, TasksRunOnThePoolsThreadsNotTheCallers) {
    WorkerPool pool(options(3));
    std::mutex mutex;
    std::set<std::thread::id> ran_on;
    std::atomic<int> done{0};
    for (int i = 0; i < 50; ++i) {
        pool.submit([&] {
            {
                std::lock_guard lock(mutex);
                ran_on.insert(std::this_thread::get_id());
            }
            ++done;
        });
    }
    ASSERT_TRUE(eventually([&] { return done.load() == 50; }));
    std::lock_guard lock(mutex);
    EXPECT_FALSE(ran_on.contains(std::this_thread::get_id()));
    EXPECT_LE(ran_on.size(), 3u);
}

TEST(WorkerPool, AllThreadsRunTasksAtOnce) {
    WorkerPool pool(options(3));
    PoolGate gate;
    ASSERT_TRUE(gate.close(pool));
    EXPECT_EQ(pool.stats().running, 3u);
}

TEST(WorkerPool, TrySubmitRefusesBeyondMaxQueuedAndLeavesTheTaskWithTheCaller) {
    WorkerPool pool(options(1, 2));
    PoolGate gate;
    ASSERT_TRUE(gate.close(pool));
    Probe first, second, refused;
    Task a = first.task(), b = second.task(), c = refused.task();
    ASSERT_TRUE(pool.try_submit(a));
    ASSERT_TRUE(pool.try_submit(b));
    EXPECT_FALSE(a);  // the pool took it

    EXPECT_FALSE(pool.try_submit(c));
    ASSERT_TRUE(c);                         // still the caller's
    EXPECT_FALSE(refused.alive.expired());  // its captures intact
    c();
    EXPECT_TRUE(*refused.ran);
    EXPECT_FALSE(refused.alive.expired());
}

TEST(WorkerPool, StatsCountQueuedRunningCompletedAndRefused) {
    WorkerPool pool(options(1, 2));
    PoolGate gate;
    ASSERT_TRUE(gate.close(pool));
    Probe probes[3];
    Task tasks[3] = {probes[0].task(), probes[1].task(), probes[2].task()};
    for (auto& t : tasks) (void)pool.try_submit(t);  // the third is refused, below

    const auto held = pool.stats();
    EXPECT_EQ(held.queued, 2u);
    EXPECT_EQ(held.running, 1u);
    EXPECT_EQ(held.completed, 0u);
    EXPECT_EQ(held.refused, 1u);

    gate.open();
    ASSERT_TRUE(eventually([&] { return pool.stats().completed == 3; }));
    const auto drained = pool.stats();
    EXPECT_EQ(drained.queued, 0u);
    EXPECT_EQ(drained.running, 0u);
    EXPECT_EQ(drained.refused, 1u);
}

TEST(WorkerPool, SubmitQueuesEvenWhenTheQueueIsFull) {
    WorkerPool pool(options(1, 1));
    PoolGate gate;
    ASSERT_TRUE(gate.close(pool));
    Probe bounded, admitted;
    Task t = bounded.task();
    ASSERT_TRUE(pool.try_submit(t));
    pool.submit(admitted.task());
    EXPECT_EQ(pool.stats().queued, 2u);
    EXPECT_EQ(pool.stats().refused, 0u);

    gate.open();
    ASSERT_TRUE(eventually([&] { return *admitted.ran && *bounded.ran; }));
}

TEST(WorkerPool, TasksCanHoldMoveOnlyCaptures) {
    WorkerPool pool(options(1));
    std::atomic<int> seen{0};
    pool.submit([value = std::make_unique<int>(7), &seen] { seen = *value; });
    ASSERT_TRUE(eventually([&] { return seen.load() == 7; }));
}

TEST(WorkerPool, ATaskMaySubmitAnotherTask) {
    WorkerPool pool(options(1, 1));
    std::atomic<bool> bounded_ran{false}, admitted_ran{false};
    pool.submit([&] {
        Task next = [&] { bounded_ran = true; };
        // The queue is empty while this runs, so a bounded submission fits.
        EXPECT_TRUE(pool.try_submit(next));
        pool.submit([&] { admitted_ran = true; });
    });
    ASSERT_TRUE(eventually([&] { return bounded_ran && admitted_ran; }));
    EXPECT_TRUE(eventually([&] { return pool.stats().completed == 3; }));
}

TEST(WorkerPool, StopLetsTheRunningTaskFinishAndDestroysQueuedOnesUnrun) {
    WorkerPool pool(options(1));
    PoolGate gate;
    ASSERT_TRUE(gate.close(pool));
    Probe queued[2];
    for (auto& q : queued) pool.submit(q.task());

    std::atomic<bool> stopped{false};
    // A jthread, so that a failed assertion below still joins it (the gate bounds the wait).
    std::jthread stopper([&] {
        pool.stop();
        stopped = true;
    });
    // stop() takes the queue at once, then waits for the running task.
    ASSERT_TRUE(eventually([&] { return pool.stats().queued == 0; }));
    EXPECT_FALSE(stopped);
    EXPECT_EQ(pool.stats().running, 1u);

    gate.open();
    stopper.join();
    EXPECT_EQ(pool.stats().completed, 1u);  // the gate's task, and only it
    EXPECT_EQ(pool.stats().running, 0u);
    for (auto& q : queued) {
        EXPECT_FALSE(*q.ran);
        EXPECT_TRUE(q.alive.expired());
    }
}

TEST(WorkerPool, StopIsIdempotentAndLaterSubmissionsAreRefusedOrDropped) {
    WorkerPool pool(options(2));
    pool.stop();
    pool.stop();

    Probe late_bounded, late_admitted;
    Task t = late_bounded.task();
    EXPECT_FALSE(pool.try_submit(t));
    EXPECT_TRUE(t);  // refused: still the caller's
    EXPECT_EQ(pool.stats().refused, 1u);

    pool.submit(late_admitted.task());
    EXPECT_TRUE(late_admitted.alive.expired());  // dropped
    EXPECT_FALSE(*late_admitted.ran);
    EXPECT_EQ(pool.stats().queued, 0u);
}

TEST(WorkerPool, StopCalledFromTwoThreadsAtOnceReturnsInBoth) {
    // The pool is thread-safe and stop() idempotent: a second stop while the first
    // still waits for a running task is just another stop. Heap state, so that a stop
    // that never returns can go on using it after the test has failed.
    struct Shared {
        WorkerPool pool{options(1)};
        PoolGate gate;
        std::atomic<int> returned{0};
        void stop() {
            pool.stop();
            ++returned;
        }
    };
    auto* shared = new Shared;
    ASSERT_TRUE(shared->gate.close(shared->pool));
    shared->pool.submit([] {});
    std::thread first([shared] { shared->stop(); });
    // The first stop has taken the queue and waits for the running task.
    EXPECT_TRUE(eventually([&] { return shared->pool.stats().queued == 0; }));
    std::thread second([shared] { shared->stop(); });
    // Give the second stop a moment to get where the first one waits.
    (void)eventually([&] { return shared->returned.load() > 0; }, std::chrono::milliseconds(200));
    shared->gate.open();

    const bool both =
        eventually([&] { return shared->returned.load() == 2; }, std::chrono::seconds(5));
    EXPECT_TRUE(both) << "a stop() never returned";
    if (!both) {
        first.detach();
        second.detach();
        return;  // `shared` is left to the stop still inside it
    }
    first.join();
    second.join();
    EXPECT_EQ(shared->pool.stats().running, 0u);
    EXPECT_EQ(shared->pool.stats().completed, 1u);
    delete shared;
}

// What request each task ran as, by the task's name.
struct RanAs {
    std::mutex mutex;
    std::map<std::string, std::string> ids;

    void note(const std::string& task) {
        std::lock_guard lock(mutex);
        ids[task] = current_request_id();
    }
    std::size_t count() {
        std::lock_guard lock(mutex);
        return ids.size();
    }
};

TEST(WorkerPool, TasksRunAsTheRequestCurrentWhenTheyWereQueued) {
    WorkerPool pool(options(2));
    WorkerPool next_pool(options(1));
    RanAs ran;
    {
        const RequestScope scope("req_first");
        pool.submit([&] {
            ran.note("asked");
            // Work a request's task hands on stays that request's.
            next_pool.submit([&] { ran.note("handed on"); });
        });
    }
    pool.submit([&] { ran.note("unasked"); });
    ASSERT_TRUE(eventually([&] { return ran.count() == 3; }));
    EXPECT_EQ(ran.ids["asked"], "req_first");
    EXPECT_EQ(ran.ids["handed on"], "req_first");
    EXPECT_EQ(ran.ids["unasked"], "");
}

TEST(WorkerPool, ADefaultTaskIsEmpty) {
    Task empty;
    EXPECT_FALSE(empty);
    Task full = [] {};
    EXPECT_TRUE(full);
}

}  // namespace
}  // namespace audiodrop::core
