#pragma once

#include <atomic>
#include <chrono>
#include <string>

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

}  // namespace audiodrop::auth
