#pragma once

// How the PostgreSQL store's methods reach the database, shared by the files that
// define them.

#include <chrono>
#include <thread>

#include "metadata/postgres_connection.hpp"
#include "metadata/postgres_metadata_store.hpp"

namespace audiodrop::metadata {

namespace postgres {

// Serialization failures and deadlocks clear up on a retry; keep it short.
inline constexpr int kMaxAttempts = 5;
inline constexpr auto kRetryPause = std::chrono::milliseconds(20);

// Writes `event` and a pending delivery for each subscription that takes it, in the
// caller's transaction; nothing when none does.
core::Result<void> insert_event(Connection& c, const OutboxEvent& event);

}  // namespace postgres

template <class Operation>
auto PostgresMetadataStore::with_connection(Operation operation)
    -> decltype(operation(std::declval<postgres::Connection&>())) {
    for (int attempt = 1;; ++attempt) {
        {
            AUDIODROP_TRY_ASSIGN(auto lease, pool_->acquire());
            lease->clear_transient_failure();
            auto result = operation(*lease);
            if (result || !lease->saw_transient_failure() || attempt == postgres::kMaxAttempts) {
                return result;
            }
        }
        std::this_thread::sleep_for(postgres::kRetryPause * attempt);
    }
}

}  // namespace audiodrop::metadata
