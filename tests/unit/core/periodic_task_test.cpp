#include "core/periodic_task.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <thread>

namespace audiodrop::core {
namespace {

using std::chrono::milliseconds;

TEST(PeriodicTask, RunsItsStepUntilStopped) {
    std::atomic<int> steps{0};
    PeriodicTask task(milliseconds(1), [&] { ++steps; });
    // Bounded: three steps of a 1 ms interval come long before 10 s.
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (steps.load() < 3 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    EXPECT_GE(steps.load(), 3);
    task.stop();
    task.stop();  // idempotent
}

TEST(PeriodicTask, StopDoesNotWaitForTheNextInterval) {
    std::atomic<int> steps{0};
    const auto started = std::chrono::steady_clock::now();
    {
        PeriodicTask task(std::chrono::hours(1), [&] { ++steps; });
    }  // destroyed: stops at once
    EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(30));
    EXPECT_EQ(steps.load(), 0);
}

TEST(PeriodicTask, StopWaitsForAStepUnderWay) {
    std::atomic<bool> in_step{false};
    std::atomic<bool> finished{false};
    PeriodicTask task(milliseconds(1), [&] {
        in_step = true;
        std::this_thread::sleep_for(milliseconds(50));
        finished = true;
    });
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (!in_step.load() && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::yield();
    }
    ASSERT_TRUE(in_step.load());
    task.stop();
    EXPECT_TRUE(finished.load());
}

}  // namespace
}  // namespace audiodrop::core
