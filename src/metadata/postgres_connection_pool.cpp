#include "metadata/postgres_connection_pool.hpp"

#include <algorithm>

namespace audiodrop::metadata::postgres {

ConnectionPool::ConnectionPool(ConnectSettings settings, std::size_t size,
                               std::chrono::milliseconds acquire_timeout)
    : settings_(std::move(settings)),
      size_(std::max<std::size_t>(size, 1)),
      acquire_timeout_(acquire_timeout) {}

ConnectionPool::Lease::~Lease() {
    if (pool_ != nullptr && conn_) pool_->give_back(std::move(*conn_));
}

core::Result<ConnectionPool::Lease> ConnectionPool::acquire() {
    std::optional<Connection> idle;
    {
        std::unique_lock lock(mutex_);
        const bool got_slot = slot_freed_.wait_for(
            lock, acquire_timeout_, [&] { return !idle_.empty() || slots_in_use_ < size_; });
        if (!got_slot) {
            return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                    "The metadata store (PostgreSQL) had no free connection to " +
                                        settings_.target + " within " +
                                        std::to_string(acquire_timeout_.count()) + " ms; all " +
                                        std::to_string(size_) + " are busy.");
        }
        if (!idle_.empty()) {
            idle.emplace(std::move(idle_.back()));
            idle_.pop_back();
        } else {
            ++slots_in_use_;
        }
    }
    // Connecting and probing happen outside the lock: they may wait on the network.
    if (idle && idle->is_usable()) return Lease(*this, std::move(*idle));
    idle.reset();  // the server closed it: open a new one in its slot
    auto fresh = Connection::open(settings_);
    if (!fresh) {
        release_slot();
        return fresh.error();
    }
    return Lease(*this, std::move(*fresh));
}

void ConnectionPool::give_back(Connection conn) {
    if (conn.is_broken()) {
        release_slot();
        return;
    }
    {
        std::lock_guard lock(mutex_);
        idle_.push_back(std::move(conn));
    }
    slot_freed_.notify_one();
}

void ConnectionPool::release_slot() {
    {
        std::lock_guard lock(mutex_);
        --slots_in_use_;
    }
    slot_freed_.notify_one();
}

}  // namespace audiodrop::metadata::postgres
