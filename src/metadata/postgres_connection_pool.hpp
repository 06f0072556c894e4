#pragma once

// A bounded pool of PostgreSQL connections, private to the PostgreSQL metadata store.
//
// Connections open lazily, up to `size`. A caller leases one for one operation and
// the lease returns it. A connection the server has closed (a restart, an
// administrator's pg_terminate_backend) is noticed when it is next leased and replaced
// by a new one, so the store heals once the server is back. Thread-safe.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <optional>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "metadata/postgres_connection.hpp"

namespace audiodrop::metadata::postgres {

struct PoolOptions {
    std::size_t size = 8;  // connections at most
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds statement_timeout{10'000};
    // How long a caller waits for a connection while all are leased.
    std::chrono::milliseconds acquire_timeout{10'000};
};

class ConnectionPool {
  public:
    ConnectionPool(ConnectSettings settings, std::size_t size,
                   std::chrono::milliseconds acquire_timeout);
    ConnectionPool(const ConnectionPool&) = delete;
    ConnectionPool& operator=(const ConnectionPool&) = delete;

    // One connection, held by one caller until the lease is destroyed.
    class Lease {
      public:
        Lease(Lease&& other) noexcept
            : pool_(std::exchange(other.pool_, nullptr)), conn_(std::move(other.conn_)) {}
        Lease& operator=(Lease&&) = delete;
        ~Lease();

        Connection& operator*() { return *conn_; }
        Connection* operator->() { return &*conn_; }

      private:
        friend class ConnectionPool;
        Lease(ConnectionPool& pool, Connection conn) : pool_(&pool), conn_(std::move(conn)) {}

        ConnectionPool* pool_;  // null once moved from
        std::optional<Connection> conn_;
    };

    // A usable connection: an idle one, else a new one while fewer than `size` exist,
    // else the next one returned. unavailable ("metadata_unavailable") when none frees
    // up within the acquire timeout or the database cannot be reached.
    core::Result<Lease> acquire();

  private:
    void give_back(Connection conn);
    // Frees the slot of a connection that was dropped or never opened.
    void release_slot();

    const ConnectSettings settings_;
    const std::size_t size_;
    const std::chrono::milliseconds acquire_timeout_;

    std::mutex mutex_;  // guards idle_ and slots_in_use_
    std::condition_variable slot_freed_;
    std::vector<Connection> idle_;
    std::size_t slots_in_use_ = 0;  // connections open (idle or leased) or being opened
};

}  // namespace audiodrop::metadata::postgres
