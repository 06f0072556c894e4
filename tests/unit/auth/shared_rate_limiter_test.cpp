#include "auth/shared_rate_limiter.hpp"

#include <gtest/gtest.h>

#include <filesystem>

#include "core/ids.hpp"
#include "fake_clock.hpp"
#include "metadata/sqlite_metadata_store.hpp"

namespace audiodrop::auth {
namespace {

using std::chrono::seconds;
using testing::FakeClock;

// The fake clock starts 20 s into a minute (1,700,000,000 = 28,333,333 * 60 + 20).
class SharedRateLimiterTest : public ::testing::Test {
  protected:
    void SetUp() override {
        dir_ = std::filesystem::temp_directory_path() / core::new_id("limiter_test_");
        std::filesystem::create_directories(dir_);
        auto opened = metadata::SqliteMetadataStore::open((dir_ / "meta.db").string());
        ASSERT_TRUE(opened) << opened.error().message;
        store_ = std::move(*opened);
    }
    void TearDown() override {
        store_.reset();
        std::filesystem::remove_all(dir_);
    }

    SharedRateLimiter limiter(unsigned limit) {
        return SharedRateLimiter(*store_, clock_, limit, seconds{60}, "token");
    }

    FakeClock clock_;
    std::filesystem::path dir_;
    std::unique_ptr<metadata::SqliteMetadataStore> store_;
};

TEST_F(SharedRateLimiterTest, AllowsTheLimitThenWaitsForTheNextWindow) {
    auto l = limiter(3);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(*l.acquire("pc_a")) << i;
    EXPECT_EQ(*l.acquire("pc_a"), seconds{40});
    clock_.advance(seconds{39});
    EXPECT_EQ(*l.acquire("pc_a"), seconds{1});  // refused attempts do not extend the wait
    clock_.advance(seconds{1});
    EXPECT_FALSE(*l.acquire("pc_a"));
}

TEST_F(SharedRateLimiterTest, KeysAreCountedApart) {
    auto l = limiter(1);
    EXPECT_FALSE(*l.acquire("pc_a"));
    EXPECT_TRUE(*l.acquire("pc_a"));
    EXPECT_FALSE(*l.acquire("pc_b"));
}

TEST_F(SharedRateLimiterTest, ReplicasOnOneStoreShareTheLimit) {
    auto replica_a = limiter(4);
    auto replica_b = limiter(4);
    EXPECT_FALSE(*replica_a.acquire("pc_a"));
    EXPECT_FALSE(*replica_b.acquire("pc_a"));
    EXPECT_FALSE(*replica_a.acquire("pc_a"));
    EXPECT_FALSE(*replica_b.acquire("pc_a"));
    EXPECT_TRUE(*replica_a.acquire("pc_a"));
    EXPECT_TRUE(*replica_b.acquire("pc_a"));
}

TEST_F(SharedRateLimiterTest, ScopesDoNotShareCounts) {
    SharedRateLimiter tokens(*store_, clock_, 1, seconds{60}, "token");
    SharedRateLimiter other(*store_, clock_, 1, seconds{60}, "other");
    EXPECT_FALSE(*tokens.acquire("pc_a"));
    EXPECT_FALSE(*other.acquire("pc_a"));
}

TEST_F(SharedRateLimiterTest, ALimitOfZeroRefusesEverything) {
    EXPECT_EQ(*limiter(0).acquire("pc_a"), seconds{40});
}

// --- BatchedSharedRateLimiter ---

class BatchedSharedRateLimiterTest : public SharedRateLimiterTest {
  protected:
    BatchedSharedRateLimiter batched(unsigned limit) {
        return BatchedSharedRateLimiter(*store_, clock_, limit, seconds{60}, "requests");
    }
    // What the store holds for `key` in the current window.
    std::uint64_t stored(const std::string& key) {
        const std::int64_t now = core::to_unix(clock_.now());
        auto count = store_->count_requests("requests:" + key, core::from_unix(now - now % 60), 0);
        EXPECT_TRUE(count) << count.error().message;
        return count ? *count : 0;
    }
};

TEST_F(BatchedSharedRateLimiterTest, DecidesInMemoryAndReachesTheStoreAtSync) {
    auto l = batched(3);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(*l.acquire("pc_a")) << i;
    EXPECT_EQ(*l.acquire("pc_a"), seconds{40});
    EXPECT_EQ(stored("pc_a"), 0u);  // nothing written while deciding
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(stored("pc_a"), 3u);  // refused requests are not counted
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(stored("pc_a"), 3u);  // each request reaches the store once
    EXPECT_TRUE(*l.acquire("pc_a"));
}

TEST_F(BatchedSharedRateLimiterTest, ReplicasLearnEachOthersCountsAtSync) {
    auto replica_a = batched(5);
    auto replica_b = batched(5);
    for (int i = 0; i < 3; ++i) EXPECT_FALSE(*replica_a.acquire("pc_a")) << i;
    ASSERT_TRUE(replica_a.sync());
    EXPECT_FALSE(*replica_b.acquire("pc_a"));
    ASSERT_TRUE(replica_b.sync());  // learns the 3 of replica a
    EXPECT_FALSE(*replica_b.acquire("pc_a"));
    EXPECT_TRUE(*replica_b.acquire("pc_a"));  // 3 + 1 synced, 1 since: the limit
    // Replica a has not synced since, so it admits what it believes is left; the
    // overshoot is what the replicas admit between two syncs, and ends at the next.
    EXPECT_FALSE(*replica_a.acquire("pc_a"));
    ASSERT_TRUE(replica_a.sync());
    ASSERT_TRUE(replica_b.sync());
    EXPECT_EQ(stored("pc_a"), 6u);
    EXPECT_TRUE(*replica_a.acquire("pc_a"));
    EXPECT_TRUE(*replica_b.acquire("pc_a"));
}

TEST_F(BatchedSharedRateLimiterTest, EachSyncAddsWhatCameSinceTheLast) {
    auto l = batched(10);
    EXPECT_FALSE(*l.acquire("pc_a"));
    ASSERT_TRUE(l.sync());
    for (int i = 0; i < 4; ++i) EXPECT_FALSE(*l.acquire("pc_a")) << i;
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(stored("pc_a"), 5u);
    for (int i = 0; i < 5; ++i) EXPECT_FALSE(*l.acquire("pc_a")) << i;
    EXPECT_TRUE(*l.acquire("pc_a"));
}

TEST_F(BatchedSharedRateLimiterTest, ANewWindowStartsOver) {
    auto l = batched(2);
    EXPECT_FALSE(*l.acquire("pc_a"));
    EXPECT_FALSE(*l.acquire("pc_a"));
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(*l.acquire("pc_a"), seconds{40});
    clock_.advance(seconds{40});
    ASSERT_TRUE(l.sync());
    EXPECT_FALSE(*l.acquire("pc_a"));
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(stored("pc_a"), 1u);
}

TEST_F(BatchedSharedRateLimiterTest, KeysAreCountedApart) {
    auto l = batched(1);
    EXPECT_FALSE(*l.acquire("pc_a"));
    EXPECT_TRUE(*l.acquire("pc_a"));
    EXPECT_FALSE(*l.acquire("pc_b"));
    ASSERT_TRUE(l.sync());
    EXPECT_EQ(stored("pc_a"), 1u);
    EXPECT_EQ(stored("pc_b"), 1u);
}

}  // namespace
}  // namespace audiodrop::auth
