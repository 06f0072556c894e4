#pragma once

// Small RAII wrappers over the SQLite C API, private to the SQLite metadata store.
// Not thread-safe: the owner serialises access to a connection.

#include <sqlite3.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/error.hpp"

namespace audiodrop::metadata::sqlite {

struct ConnectionCloser {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using Connection = std::unique_ptr<sqlite3, ConnectionCloser>;

// Maps a failed SQLite call to the store's error vocabulary: a full disk is
// storage_full, anything else means the store cannot serve (unavailable).
// `doing` completes "failed to ...", e.g. "read an upload".
core::Error to_error(sqlite3* db, int rc, std::string_view doing);

// Runs SQL without parameters or results (pragmas, DDL, BEGIN/COMMIT); may hold
// several statements.
core::Result<void> exec(sqlite3* db, const std::string& sql, std::string_view doing);

// A prepared statement. Parameters are bound by position, starting at 1; a failed
// bind is reported by the next step() so call sites stay linear.
class Statement {
  public:
    static core::Result<Statement> prepare(sqlite3* db, std::string_view sql);

    Statement& bind(int index, std::string_view text);
    Statement& bind(int index, std::int64_t value);
    Statement& bind(int index, std::optional<std::int64_t> value);

    // The raw result code of one step: SQLITE_ROW, SQLITE_DONE or an (extended) error.
    int step_raw();
    // true when a row is ready, false when the statement has finished.
    core::Result<bool> step(std::string_view doing);

    bool is_null(int column) const;
    std::int64_t int64(int column) const;
    std::string text(int column) const;

  private:
    friend class Session;
    // Finalizes a statement the Statement owns; resets one it borrows from a Session.
    struct Release {
        bool owned = true;
        void operator()(sqlite3_stmt* s) const;
    };
    Statement(sqlite3* db, sqlite3_stmt* stmt, bool owned = true)
        : db_(db), stmt_(stmt, Release{owned}) {}

    void note_bind(int rc);

    sqlite3* db_;
    std::unique_ptr<sqlite3_stmt, Release> stmt_;
    int bind_rc_ = SQLITE_OK;
};

// A connection and the statements prepared on it, kept for reuse: preparing costs more
// than running the small statements of a metadata call. Not thread-safe; one user at
// a time.
class Session {
  public:
    explicit Session(Connection db) : db_(std::move(db)) {}
    sqlite3* db() const { return db_.get(); }
    // The statement for `sql`, prepared on first use; it is reset for the next user
    // when the returned Statement goes. One Statement per sql at a time.
    core::Result<Statement> statement(std::string_view sql);

  private:
    struct Finalizer {
        void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    Connection db_;  // declared first: closed after the statements are finalized
    std::unordered_map<std::string, std::unique_ptr<sqlite3_stmt, Finalizer>> statements_;
};

// BEGIN IMMEDIATE ... COMMIT; rolls back when destroyed uncommitted. IMMEDIATE takes
// the write lock up front, so two connections never deadlock upgrading a read lock.
class Transaction {
  public:
    static core::Result<Transaction> begin_immediate(sqlite3* db);
    // The same on a Session, with its prepared statements (a batch per commit adds up).
    static core::Result<Transaction> begin_immediate(Session& session);
    Transaction(Transaction&& other) noexcept : db_(other.db_), session_(other.session_) {
        other.db_ = nullptr;
    }
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();

    core::Result<void> commit();

  private:
    Transaction(sqlite3* db, Session* session) : db_(db), session_(session) {}
    sqlite3* db_;       // null once committed or moved from
    Session* session_;  // when begun on one
};

}  // namespace audiodrop::metadata::sqlite
