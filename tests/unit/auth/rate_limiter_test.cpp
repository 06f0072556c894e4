#include "auth/rate_limiter.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>
#include <vector>

#include "fake_clock.hpp"

namespace audiodrop::auth {
namespace {

using std::chrono::seconds;
using testing::FakeClock;

TEST(RateLimiter, AllowsTheLimitThenSaysHowLongToWait) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 10, seconds{60});
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(*limiter.acquire("pc_a")) << i;
    const auto wait = *limiter.acquire("pc_a");
    ASSERT_TRUE(wait);
    EXPECT_EQ(*wait, seconds{60});
}

TEST(RateLimiter, WaitIsUntilTheOldestEventLeavesTheWindow) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 3, seconds{60});
    EXPECT_FALSE(*limiter.acquire("k"));
    clock.advance(seconds{10});
    EXPECT_FALSE(*limiter.acquire("k"));
    EXPECT_FALSE(*limiter.acquire("k"));
    clock.advance(seconds{15});
    EXPECT_EQ(*limiter.acquire("k"), seconds{35});
    clock.advance(seconds{34});
    EXPECT_EQ(*limiter.acquire("k"), seconds{1});
    clock.advance(seconds{1});
    EXPECT_FALSE(*limiter.acquire("k"));  // the first event has left; one slot is free
    EXPECT_EQ(*limiter.acquire("k"), seconds{10});
}

TEST(RateLimiter, RoundsPartialSecondsUp) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 1, seconds{60});
    EXPECT_FALSE(*limiter.acquire("k"));
    clock.advance(seconds{1});
    const auto wait = *limiter.acquire("k");
    ASSERT_TRUE(wait);
    EXPECT_EQ(*wait, seconds{59});
}

TEST(RateLimiter, AllowsAgainAfterAWholeWindow) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 10, seconds{60});
    for (int i = 0; i < 10; ++i) ASSERT_FALSE(*limiter.acquire("pc_a"));
    ASSERT_TRUE(*limiter.acquire("pc_a"));
    clock.advance(seconds{59});
    EXPECT_TRUE(*limiter.acquire("pc_a"));
    clock.advance(seconds{1});
    for (int i = 0; i < 10; ++i) EXPECT_FALSE(*limiter.acquire("pc_a")) << i;
    EXPECT_TRUE(*limiter.acquire("pc_a"));
}

TEST(RateLimiter, RefusedAttemptsDoNotExtendTheWait) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 2, seconds{60});
    ASSERT_FALSE(*limiter.acquire("k"));
    ASSERT_FALSE(*limiter.acquire("k"));
    for (int i = 0; i < 30; ++i) {
        clock.advance(seconds{1});
        ASSERT_TRUE(*limiter.acquire("k"));
    }
    clock.advance(seconds{30});
    EXPECT_FALSE(*limiter.acquire("k"));
}

TEST(RateLimiter, KeysAreLimitedSeparately) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 2, seconds{60});
    ASSERT_FALSE(*limiter.acquire("pc_a"));
    ASSERT_FALSE(*limiter.acquire("pc_a"));
    ASSERT_TRUE(*limiter.acquire("pc_a"));
    EXPECT_FALSE(*limiter.acquire("pc_b"));
    EXPECT_FALSE(*limiter.acquire("pc_b"));
    EXPECT_TRUE(*limiter.acquire("pc_b"));
}

TEST(RateLimiter, ForgettingIdleKeysKeepsActiveLimits) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 2, seconds{60});
    for (int i = 0; i < 1000; ++i) ASSERT_FALSE(*limiter.acquire("idle_" + std::to_string(i)));
    clock.advance(seconds{30});
    ASSERT_FALSE(*limiter.acquire("busy"));
    ASSERT_FALSE(*limiter.acquire("busy"));
    clock.advance(seconds{31});  // a prune runs here: idle keys go, "busy" must stay
    EXPECT_EQ(*limiter.acquire("busy"), seconds{29});
    EXPECT_FALSE(*limiter.acquire("idle_0"));
}

TEST(RateLimiter, ConcurrentCallersGetExactlyTheLimit) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 50, seconds{60});
    std::atomic<int> allowed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&] {
            for (int i = 0; i < 100; ++i) {
                if (!*limiter.acquire("shared")) ++allowed;
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(allowed.load(), 50);
}

TEST(RateLimiter, ZeroLimitRefusesEverything) {
    FakeClock clock;
    InMemoryRateLimiter limiter(clock, 0, seconds{60});
    EXPECT_EQ(*limiter.acquire("k"), seconds{60});
}

}  // namespace
}  // namespace audiodrop::auth
