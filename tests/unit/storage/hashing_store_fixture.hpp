#pragma once

#include <gtest/gtest.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/worker_pool.hpp"
#include "local_store_fixture.hpp"
#include "support/pool_gate.hpp"

namespace audiodrop::storage::test_support {

// The bytes of part `n` in these tests (a little over 150 KB, each part its own size);
// `version` tells re-uploads apart.
inline std::string part_bytes(std::uint32_t n, unsigned version = 0) {
    return pattern_bytes(150'000 + 1000 * n, n * 100 + version);
}

// A LocalStoreTest whose store advances whole-file MD5s on a real hash pool, as the
// server runs it, with helpers to store many parts and to restart the store.
class HashingStoreTest : public LocalStoreTest {
  protected:
    static constexpr unsigned kHashThreads = 2;
    static constexpr std::uint64_t kMaxPart = 1024 * 1024;

    void SetUp() override {
        LocalStoreTest::SetUp();
        restart();
    }

    void TearDown() override {
        // Background work refers to the store: it stops first.
        if (pool_) pool_->stop();
        LocalStoreTest::TearDown();
    }

    // What kill -9 and a restart do: queued hashing is lost, the store object goes,
    // `while_down` may change the files, and a store (with a fresh hash pool, or none)
    // opens on the same root.
    void restart(const std::function<void()>& while_down = {}, bool with_pool = true) {
        if (pool_) pool_->stop();
        store_.reset();
        if (while_down) while_down();
        pool_ = with_pool ? std::make_unique<core::WorkerPool>(
                                core::WorkerPool::Options{"hash", kHashThreads, 1024, 0})
                          : nullptr;
        auto s = LocalObjectStore::open(options(), clock_, pool_.get());
        ASSERT_TRUE(s.has_value()) << s.error().code << ": " << s.error().message;
        store_ = std::move(*s);
    }

    // Stores the parts `numbers` of upload `id` in the order given (each with
    // part_bytes(n, version)) and returns their ETags by part number.
    std::map<std::uint32_t, std::string> put_parts(const std::string& key, const std::string& id,
                                                   const std::vector<std::uint32_t>& numbers,
                                                   unsigned version = 0) {
        std::map<std::uint32_t, std::string> etags;
        for (auto n : numbers) {
            auto part = put_part(key, id, n, part_bytes(n, version));
            EXPECT_TRUE(part.has_value()) << "part " << n;
            if (part) etags[n] = part->etag;
        }
        return etags;
    }

    // The complete-upload list naming `etags` (all of them, ascending).
    static std::vector<PartRef> refs(const std::map<std::uint32_t, std::string>& etags) {
        std::vector<PartRef> out;
        for (const auto& [n, etag] : etags) out.push_back(PartRef{n, etag});
        return out;
    }

    // Waits, bounded, until the store's frontier for `id` covers exactly `n` parts.
    [[nodiscard]] ::testing::AssertionResult hashed_reaches(const std::string& id,
                                                            std::uint32_t n) {
        if (audiodrop::test_support::eventually([&] { return store_->parts_hashed(id) == n; })) {
            return ::testing::AssertionSuccess();
        }
        return ::testing::AssertionFailure()
               << "parts_hashed stayed at " << store_->parts_hashed(id) << ", not " << n;
    }

    std::filesystem::path frontier_file(const std::string& id) const {
        return upload_dir(id) / std::string(Md5Frontiers::kFileName);
    }

    std::unique_ptr<core::WorkerPool> pool_;
};

}  // namespace audiodrop::storage::test_support
