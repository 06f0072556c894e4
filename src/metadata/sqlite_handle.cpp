#include "metadata/sqlite_handle.hpp"

#include <cerrno>
#include <cstring>

namespace audiodrop::metadata::sqlite {
namespace {

// The errno behind an I/O error when it says the disk is full, else 0. SQLite reports
// most writes that find no room as SQLITE_FULL, but a failure to create or grow the
// write-ahead log's shared-memory index as SQLITE_IOERR_SHMSIZE, which is how any
// connection opened on a full disk fails. sqlite3_system_errno is set for I/O errors.
int full_disk_errno(sqlite3* db, int rc) {
    if ((rc & 0xff) != SQLITE_IOERR || db == nullptr) return 0;
    const int err = sqlite3_system_errno(db);
    return err == ENOSPC || err == EDQUOT ? err : 0;
}

}  // namespace

core::Error to_error(sqlite3* db, int rc, std::string_view doing) {
    // sqlite3_errmsg describes the most recent failure on this connection, which is
    // this one as long as the caller holds the connection exclusively.
    std::string message = "The metadata store (SQLite) failed to " + std::string(doing) + ": " +
                          (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    const int full_errno = full_disk_errno(db, rc);
    if (full_errno != 0) message += std::string(" (") + std::strerror(full_errno) + ")";
    message += ".";
    if ((rc & 0xff) == SQLITE_FULL || full_errno != 0) {
        return core::make_error(core::ErrorKind::storage_full, "metadata_storage_full",
                                std::move(message));
    }
    return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                            std::move(message));
}

core::Result<void> exec(sqlite3* db, const std::string& sql, std::string_view doing) {
    const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return to_error(db, rc, doing);
    return {};
}

core::Result<Statement> Statement::prepare(sqlite3* db, std::string_view sql) {
    sqlite3_stmt* stmt = nullptr;
    const int rc = sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt, nullptr);
    if (rc != SQLITE_OK) {
        sqlite3_finalize(stmt);
        return to_error(db, rc, "prepare a statement");
    }
    return Statement(db, stmt);
}

void Statement::Release::operator()(sqlite3_stmt* s) const {
    if (owned) {
        sqlite3_finalize(s);
    } else {
        sqlite3_reset(s);
        sqlite3_clear_bindings(s);
    }
}

core::Result<Statement> Session::statement(std::string_view sql) {
    auto& slot = statements_[std::string(sql)];
    if (!slot) {
        sqlite3_stmt* stmt = nullptr;
        const int rc = sqlite3_prepare_v3(db_.get(), sql.data(), static_cast<int>(sql.size()),
                                          SQLITE_PREPARE_PERSISTENT, &stmt, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(stmt);
            statements_.erase(std::string(sql));
            return to_error(db_.get(), rc, "prepare a statement");
        }
        slot.reset(stmt);
    }
    return Statement(db_.get(), slot.get(), false);
}

void Statement::note_bind(int rc) {
    if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
}

Statement& Statement::bind(int index, std::string_view text) {
    note_bind(sqlite3_bind_text(stmt_.get(), index, text.data(), static_cast<int>(text.size()),
                                SQLITE_TRANSIENT));
    return *this;
}

Statement& Statement::bind(int index, std::int64_t value) {
    note_bind(sqlite3_bind_int64(stmt_.get(), index, value));
    return *this;
}

Statement& Statement::bind(int index, std::optional<std::int64_t> value) {
    if (value) return bind(index, *value);
    note_bind(sqlite3_bind_null(stmt_.get(), index));
    return *this;
}

int Statement::step_raw() {
    if (bind_rc_ != SQLITE_OK) return bind_rc_;
    return sqlite3_step(stmt_.get());
}

core::Result<bool> Statement::step(std::string_view doing) {
    const int rc = step_raw();
    if (rc == SQLITE_ROW) return true;
    if (rc == SQLITE_DONE) return false;
    return to_error(db_, rc, doing);
}

bool Statement::is_null(int column) const {
    return sqlite3_column_type(stmt_.get(), column) == SQLITE_NULL;
}

std::int64_t Statement::int64(int column) const {
    return sqlite3_column_int64(stmt_.get(), column);
}

std::string Statement::text(int column) const {
    const auto* p = sqlite3_column_text(stmt_.get(), column);
    if (p == nullptr) return {};
    return std::string(reinterpret_cast<const char*>(p),
                       static_cast<std::size_t>(sqlite3_column_bytes(stmt_.get(), column)));
}

namespace {

// A statement without results, prepared once on `session`.
core::Result<void> run_prepared(Session& session, std::string_view sql, std::string_view doing) {
    AUDIODROP_TRY_ASSIGN(auto stmt, session.statement(sql));
    AUDIODROP_TRY(stmt.step(doing));
    return {};
}

}  // namespace

core::Result<Transaction> Transaction::begin_immediate(sqlite3* db) {
    AUDIODROP_TRY(exec(db, "BEGIN IMMEDIATE", "begin a transaction"));
    return Transaction(db, nullptr);
}

core::Result<Transaction> Transaction::begin_immediate(Session& session) {
    AUDIODROP_TRY(run_prepared(session, "BEGIN IMMEDIATE", "begin a transaction"));
    return Transaction(session.db(), &session);
}

Transaction::~Transaction() {
    // Best effort, and only while one is open (a failure may have ended it): a failed
    // ROLLBACK leaves SQLite to roll back when the connection closes or the next
    // transaction begins.
    if (db_ != nullptr && sqlite3_get_autocommit(db_) == 0) {
        sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
}

core::Result<void> Transaction::commit() {
    auto done = session_ != nullptr ? run_prepared(*session_, "COMMIT", "commit a transaction")
                                    : exec(db_, "COMMIT", "commit a transaction");
    if (done) db_ = nullptr;
    return done;
}

}  // namespace audiodrop::metadata::sqlite
