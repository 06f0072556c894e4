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

}  // namespace
}  // namespace audiodrop::auth
