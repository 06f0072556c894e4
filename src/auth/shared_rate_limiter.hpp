#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <mutex>
#include <string>
#include <unordered_map>

#include "auth/rate_limiter.hpp"
#include "metadata/metadata_store.hpp"

namespace audiodrop::auth {

// Fixed windows counted in the metadata store, so one limit holds across every replica
// on that store. Each event is one atomic count in the database. Across a window's
// boundary a key may get up to twice the limit in a short burst, never more per window.
// Refused events are counted too; they do not lengthen the wait, which always ends
// with the window. Keys are named `scope`:key in the store.
class SharedRateLimiter final : public RateLimiter {
  public:
    SharedRateLimiter(metadata::MetadataStore& store, const core::Clock& clock, unsigned limit,
                      std::chrono::seconds window, std::string scope);

    core::Result<std::optional<std::chrono::seconds>> acquire(const std::string& key) override;

  private:
    metadata::MetadataStore& store_;
    const core::Clock& clock_;
    unsigned limit_;
    std::chrono::seconds window_;
    std::string scope_;
    std::atomic<std::int64_t> last_forget_{0};  // unix seconds
};

// The same fixed windows in the same store, for limits checked on every API request:
// acquire() decides from memory and never waits on the store, so it may run on a
// network thread, and sync() adds what this replica admitted since the last sync to
// the store's count and learns from it what every replica admitted. The limit holds
// across replicas to within what they admit between two syncs. Refused events are not
// counted. Keys are named `scope`:key in the store, next to SharedRateLimiter's, whose
// clean-up forgets them too.
class BatchedSharedRateLimiter final : public RateLimiter {
  public:
    BatchedSharedRateLimiter(metadata::MetadataStore& store, const core::Clock& clock,
                             unsigned limit, std::chrono::seconds window, std::string scope);

    core::Result<std::optional<std::chrono::seconds>> acquire(const std::string& key) override;
    // One store call per key that admitted events since the last sync. Counts that
    // fail to reach the store are kept for the next sync; the first failure is returned.
    core::Result<void> sync() override;

  private:
    struct Count {
        std::int64_t window_start = 0;  // unix seconds
        std::uint64_t synced = 0;       // every replica's count at the last sync
        std::uint64_t unsynced = 0;     // admitted here since
    };

    metadata::MetadataStore& store_;
    const core::Clock& clock_;
    unsigned limit_;
    std::chrono::seconds window_;
    std::string scope_;
    std::mutex sync_mutex_;  // one sync at a time, so `unsynced` only grows meanwhile
    std::mutex mutex_;
    std::unordered_map<std::string, Count> counts_;
};

}  // namespace audiodrop::auth
