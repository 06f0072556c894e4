#pragma once

// How the SQLite store's methods reach the database, shared by the files that define
// them: writes go through the group commit, reads through the reader pool.

#include <semaphore>

#include "metadata/sqlite_handle.hpp"
#include "metadata/sqlite_metadata_store.hpp"

namespace audiodrop::metadata {

namespace sqlite {

inline bool is_uniqueness_violation(int rc) {
    return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

// Runs a statement that returns no rows.
inline core::Result<void> run(Statement& stmt, std::string_view doing) {
    auto row = stmt.step(doing);
    if (!row) return row.error();
    return {};
}

// Runs `op` (-> Result<T>), a write of several statements, as one unit of its batch: a
// failure undoes what it changed and leaves the rest of the batch alone.
template <class Op>
auto as_one_write(Session& s, Op op) -> decltype(op()) {
    AUDIODROP_TRY(exec(s.db(), "SAVEPOINT one_write", "start a write"));
    auto result = op();
    if (!result) {
        // Fails only when the error ended the transaction, which undid it all anyway.
        (void)exec(s.db(), "ROLLBACK TO one_write; RELEASE one_write", "undo a write");
        return result;
    }
    AUDIODROP_TRY(exec(s.db(), "RELEASE one_write", "finish a write"));
    return result;
}

// A connection to the database at `path`, configured as every connection of the store.
core::Result<Connection> open_connection(const std::string& path, int flags);

// Writes `event` and a pending delivery for each subscription that takes it, in the
// caller's write; nothing when none does.
core::Result<void> insert_event(Session& s, const OutboxEvent& event);

}  // namespace sqlite

template <class Op>
auto SqliteMetadataStore::write(Op op) -> std::invoke_result_t<Op&, sqlite::Session&> {
    using R = std::invoke_result_t<Op&, sqlite::Session&>;
    // Shared with the committer, which may still hold it when the waiter has gone on.
    struct Waiting {
        std::optional<R> result;
        std::binary_semaphore finished{0};
    };
    auto waiting = std::make_shared<Waiting>();
    auto w = std::make_shared<PendingWrite>();
    w->run = [&op, waiting](sqlite::Session& s) {
        waiting->result.emplace(op(s));
        return static_cast<bool>(*waiting->result);
    };
    w->fail = [waiting](const core::Error& e) { waiting->result.emplace(e); };
    w->finished = [waiting] { waiting->finished.release(); };
    enqueue(std::move(w));
    waiting->finished.acquire();
    return std::move(*waiting->result);
}

template <class Op, class Done>
void SqliteMetadataStore::write_async(Op op, Done done) {
    using R = std::invoke_result_t<Op&, sqlite::Session&>;
    auto result = std::make_shared<std::optional<R>>();
    auto w = std::make_shared<PendingWrite>();
    w->run = [op = std::move(op), result](sqlite::Session& s) mutable {
        result->emplace(op(s));
        return static_cast<bool>(**result);
    };
    w->fail = [result](const core::Error& e) { result->emplace(e); };
    w->finished = [result, done = std::move(done)]() mutable { done(std::move(**result)); };
    enqueue(std::move(w));
}

template <class Op>
auto SqliteMetadataStore::read(Op op) -> std::invoke_result_t<Op&, sqlite::Session&> {
    std::unique_ptr<sqlite::Session> session;
    {
        std::lock_guard lock(readers_mutex_);
        if (!idle_readers_.empty()) {
            session = std::move(idle_readers_.back());
            idle_readers_.pop_back();
        }
    }
    if (!session) {
        AUDIODROP_TRY_ASSIGN(auto db, sqlite::open_connection(path_, SQLITE_OPEN_READWRITE));
        session = std::make_unique<sqlite::Session>(std::move(db));
    }
    auto result = op(*session);
    std::lock_guard lock(readers_mutex_);
    idle_readers_.push_back(std::move(session));
    return result;
}

}  // namespace audiodrop::metadata
