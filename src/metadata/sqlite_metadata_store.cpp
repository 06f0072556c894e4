#include "metadata/sqlite_metadata_store.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "metadata/sql_encoding.hpp"
#include "metadata/sqlite_schema.hpp"

namespace audiodrop::metadata {
namespace {

using sql::from_sql;
using sql::kUploadColumns;
using sql::to_sql;
using sql::to_sql_limit;
using sqlite::Statement;

// Another process may hold the write lock for a moment (a migration, a checkpoint);
// wait that long before reporting the store unavailable.
constexpr int kBusyTimeoutMs = 5000;

bool is_uniqueness_violation(int rc) {
    return rc == SQLITE_CONSTRAINT_PRIMARYKEY || rc == SQLITE_CONSTRAINT_UNIQUE;
}

// Runs a statement that returns no rows.
core::Result<void> run(Statement& stmt, std::string_view doing) {
    auto row = stmt.step(doing);
    if (!row) return row.error();
    return {};
}

core::Result<UploadRecord> read_upload(const Statement& s) {
    UploadRecord u;
    u.file_id = s.text(0);
    u.upload_id = s.text(1);
    u.client_id = s.text(2);
    u.user_id = s.text(3);
    u.filesize = from_sql(s.int64(4));
    u.filetype = s.text(5);
    u.chunk_size = from_sql(s.int64(6));
    u.part_count = static_cast<std::uint32_t>(s.int64(7));
    u.object_key = s.text(8);
    u.storage_upload_id = s.text(9);
    AUDIODROP_TRY_ASSIGN(u.state, sql::stored_state(u.file_id, s.text(10)));
    u.created_at = core::from_unix(s.int64(11));
    u.expires_at = core::from_unix(s.int64(12));
    if (!s.is_null(13)) u.completed_at = core::from_unix(s.int64(13));
    u.file_md5 = s.text(14);
    u.part_list_digest = s.text(15);
    return u;
}

core::Result<std::vector<UploadRecord>> read_uploads(Statement& stmt, std::string_view doing) {
    std::vector<UploadRecord> out;
    for (;;) {
        auto row = stmt.step(doing);
        if (!row) return row.error();
        if (!*row) return out;
        auto u = read_upload(stmt);
        if (!u) return u.error();
        out.push_back(std::move(*u));
    }
}

// Switching a new file to WAL needs an exclusive lock, and SQLite reports a clash
// with another process doing the same at that moment as SQLITE_BUSY at once,
// without consulting the busy handler; so retry here, up to the busy timeout.
core::Result<std::string> switch_to_wal(sqlite3* db) {
    constexpr auto kPause = std::chrono::milliseconds(10);
    constexpr int kAttempts = kBusyTimeoutMs / 10;
    for (int attempt = 1;; ++attempt) {
        auto stmt = Statement::prepare(db, "PRAGMA journal_mode = WAL");
        if (!stmt) return stmt.error();
        const int rc = stmt->step_raw();
        if (rc == SQLITE_ROW) return stmt->text(0);
        if ((rc & 0xff) != SQLITE_BUSY || attempt == kAttempts) {
            return sqlite::to_error(db, rc, "switch to write-ahead logging");
        }
        std::this_thread::sleep_for(kPause);
    }
}

}  // namespace

SqliteMetadataStore::SqliteMetadataStore(sqlite::Connection db) : db_(std::move(db)) {}

SqliteMetadataStore::~SqliteMetadataStore() = default;

int SqliteMetadataStore::schema_version() { return sqlite::latest_schema_version(); }

core::Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(
    const std::string& path) {
    sqlite3* raw = nullptr;
    // NOMUTEX: the store's own mutex serialises every use of the connection.
    const int rc =
        sqlite3_open_v2(path.c_str(), &raw,
                        SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    sqlite::Connection db{raw};
    if (rc != SQLITE_OK) return sqlite::to_error(db.get(), rc, "open the database at " + path);

    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);

    auto mode = switch_to_wal(db.get());
    if (!mode) return mode.error();
    if (*mode != "wal") {
        return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                "The metadata database at " + path +
                                    " cannot use write-ahead logging (journal mode is '" + *mode +
                                    "'); put it on a local filesystem.");
    }
    for (const char* pragma : {"PRAGMA synchronous = FULL", "PRAGMA foreign_keys = ON"}) {
        auto set = sqlite::exec(db.get(), pragma, "configure the connection");
        if (!set) return set.error();
    }
    auto migrated = sqlite::migrate(db.get());
    if (!migrated) return migrated.error();
    return std::unique_ptr<SqliteMetadataStore>(new SqliteMetadataStore(std::move(db)));
}

core::Result<void> SqliteMetadataStore::create_partner(const Partner& p) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(),
                                   "INSERT INTO partners (client_id, name, region, secret_hash, "
                                   "created_at) VALUES (?, ?, ?, ?, ?)");
    if (!stmt) return stmt.error();
    stmt->bind(1, p.client_id)
        .bind(2, p.name)
        .bind(3, p.region)
        .bind(4, p.secret_hash)
        .bind(5, core::to_unix(p.created_at));
    const int rc = stmt->step_raw();
    if (is_uniqueness_violation(rc)) {
        return core::make_error(core::ErrorKind::conflict, "partner_exists",
                                "A partner with client_id " + p.client_id + " exists already.");
    }
    if (rc != SQLITE_DONE) return sqlite::to_error(db_.get(), rc, "create a partner");
    return {};
}

core::Result<std::optional<Partner>> SqliteMetadataStore::find_partner(
    const std::string& client_id) {
    std::lock_guard lock(mutex_);
    auto stmt =
        Statement::prepare(db_.get(),
                           "SELECT client_id, name, region, secret_hash, created_at FROM partners "
                           "WHERE client_id = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, client_id);
    auto row = stmt->step("read a partner");
    if (!row) return row.error();
    if (!*row) return std::optional<Partner>();
    return std::optional<Partner>(Partner{stmt->text(0), stmt->text(1), stmt->text(2),
                                          stmt->text(3), core::from_unix(stmt->int64(4))});
}

core::Result<void> SqliteMetadataStore::add_refresh_token(const RefreshToken& t) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(
        db_.get(),
        "INSERT INTO refresh_tokens (token_hash, client_id, expires_at) VALUES (?, ?, ?)");
    if (!stmt) return stmt.error();
    stmt->bind(1, t.token_hash).bind(2, t.client_id).bind(3, core::to_unix(t.expires_at));
    const int rc = stmt->step_raw();
    if (is_uniqueness_violation(rc)) {
        return core::make_error(core::ErrorKind::conflict, "refresh_token_exists",
                                "This refresh token is stored already.");
    }
    if (rc != SQLITE_DONE) return sqlite::to_error(db_.get(), rc, "store a refresh token");
    return {};
}

core::Result<std::optional<RefreshToken>> SqliteMetadataStore::spend_refresh_token(
    const std::string& token_hash, core::TimePoint now) {
    std::lock_guard lock(mutex_);
    // One statement decides and marks, so two callers can never both see it unspent.
    auto stmt = Statement::prepare(db_.get(),
                                   "UPDATE refresh_tokens SET spent_at = ?1 "
                                   "WHERE token_hash = ?2 AND spent_at IS NULL AND expires_at > ?1 "
                                   "RETURNING token_hash, client_id, expires_at");
    if (!stmt) return stmt.error();
    stmt->bind(1, core::to_unix(now)).bind(2, token_hash);
    auto row = stmt->step("spend a refresh token");
    if (!row) return row.error();
    if (!*row) return std::optional<RefreshToken>();
    RefreshToken t{stmt->text(0), stmt->text(1), core::from_unix(stmt->int64(2))};
    // The statement commits when it finishes; hand the token out only after that.
    auto done = stmt->step("spend a refresh token");
    if (!done) return done.error();
    return std::optional<RefreshToken>(std::move(t));
}

core::Result<void> SqliteMetadataStore::create_upload(const UploadRecord& u,
                                                      std::uint64_t max_open_uploads) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(),
                                   "INSERT INTO uploads (" + std::string(kUploadColumns) +
                                       ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                                       "WHERE (SELECT COUNT(*) FROM uploads WHERE client_id = ?3 "
                                       "AND user_id = ?4 AND state = 'open') < ?17");
    if (!stmt) return stmt.error();
    std::optional<std::int64_t> completed_at;
    if (u.completed_at) completed_at = core::to_unix(*u.completed_at);
    stmt->bind(1, u.file_id)
        .bind(2, u.upload_id)
        .bind(3, u.client_id)
        .bind(4, u.user_id)
        .bind(5, to_sql(u.filesize))
        .bind(6, u.filetype)
        .bind(7, to_sql(u.chunk_size))
        .bind(8, std::int64_t{u.part_count})
        .bind(9, u.object_key)
        .bind(10, u.storage_upload_id)
        .bind(11, to_string(u.state))
        .bind(12, core::to_unix(u.created_at))
        .bind(13, core::to_unix(u.expires_at))
        .bind(14, completed_at)
        .bind(15, u.file_md5)
        .bind(16, u.part_list_digest)
        .bind(17, static_cast<std::int64_t>(std::min<std::uint64_t>(max_open_uploads, INT64_MAX)));
    const int rc = stmt->step_raw();
    if (is_uniqueness_violation(rc)) {
        return core::make_error(core::ErrorKind::conflict, "upload_exists",
                                "An upload with file_id " + u.file_id + " or upload_id " +
                                    u.upload_id + " exists already.");
    }
    if (rc != SQLITE_DONE) return sqlite::to_error(db_.get(), rc, "create an upload");
    if (sqlite3_changes(db_.get()) == 0) {
        return core::make_error(core::ErrorKind::rate_limited, "open_upload_quota",
                                "user " + u.user_id + " has " + std::to_string(max_open_uploads) +
                                    " open uploads already",
                                core::Reason::open_upload_quota);
    }
    return {};
}

core::Result<std::optional<UploadRecord>> SqliteMetadataStore::find_upload(
    const std::string& file_id) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(
        db_.get(), "SELECT " + std::string(kUploadColumns) + " FROM uploads WHERE file_id = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, file_id);
    auto row = stmt->step("read an upload");
    if (!row) return row.error();
    if (!*row) return std::optional<UploadRecord>();
    auto u = read_upload(*stmt);
    if (!u) return u.error();
    return std::optional<UploadRecord>(std::move(*u));
}

core::Result<std::uint64_t> SqliteMetadataStore::count_open_uploads(const std::string& client_id,
                                                                    const std::string& user_id) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(),
                                   "SELECT COUNT(*) FROM uploads "
                                   "WHERE client_id = ? AND user_id = ? AND state = 'open'");
    if (!stmt) return stmt.error();
    stmt->bind(1, client_id).bind(2, user_id);
    auto row = stmt->step("count open uploads");
    if (!row) return row.error();
    return from_sql(stmt->int64(0));
}

core::Result<bool> SqliteMetadataStore::mark_completed(const std::string& file_id,
                                                       const std::string& file_md5,
                                                       const std::string& part_list_digest,
                                                       core::TimePoint completed_at) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(),
                                   "UPDATE uploads SET state = 'completed', file_md5 = ?, "
                                   "part_list_digest = ?, completed_at = ? "
                                   "WHERE file_id = ? AND state = 'open'");
    if (!stmt) return stmt.error();
    stmt->bind(1, file_md5)
        .bind(2, part_list_digest)
        .bind(3, core::to_unix(completed_at))
        .bind(4, file_id);
    auto done = run(*stmt, "complete an upload");
    if (!done) return done.error();
    return sqlite3_changes(db_.get()) > 0;
}

core::Result<bool> SqliteMetadataStore::transition(const std::string& file_id, UploadState from,
                                                   UploadState to) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(
        db_.get(), "UPDATE uploads SET state = ?3 WHERE file_id = ?1 AND state = ?2");
    if (!stmt) return stmt.error();
    stmt->bind(1, file_id).bind(2, to_string(from)).bind(3, to_string(to));
    auto done = run(*stmt, "change the state of an upload");
    if (!done) return done.error();
    return sqlite3_changes(db_.get()) > 0;
}

core::Result<void> SqliteMetadataStore::remove_upload(const std::string& file_id) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(), "DELETE FROM uploads WHERE file_id = ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, file_id);
    return run(*stmt, "remove an upload");
}

core::Result<std::vector<UploadRecord>> SqliteMetadataStore::find_expired_open(core::TimePoint now,
                                                                               std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(), "SELECT " + std::string(kUploadColumns) +
                                                  " FROM uploads "
                                                  "WHERE state = 'open' AND expires_at < ? "
                                                  "ORDER BY expires_at, file_id LIMIT ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, core::to_unix(now)).bind(2, to_sql_limit(limit));
    return read_uploads(*stmt, "find expired uploads");
}

core::Result<std::vector<UploadRecord>> SqliteMetadataStore::find_abandoned(std::size_t limit) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(), "SELECT " + std::string(kUploadColumns) +
                                                  " FROM uploads "
                                                  "WHERE state IN ('aborted', 'expired') "
                                                  "ORDER BY expires_at, file_id LIMIT ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, to_sql_limit(limit));
    return read_uploads(*stmt, "find abandoned uploads");
}

core::Result<std::uint64_t> SqliteMetadataStore::count_request(const std::string& key,
                                                               core::TimePoint window_start) {
    std::lock_guard lock(mutex_);
    // SET reads the row as it was, so both columns see the old window_start.
    auto stmt = Statement::prepare(
        db_.get(),
        "INSERT INTO request_counts (key, window_start, requests) VALUES (?1, ?2, 1) "
        "ON CONFLICT (key) DO UPDATE SET "
        "requests = CASE WHEN window_start >= excluded.window_start THEN requests + 1 ELSE 1 END, "
        "window_start = max(window_start, excluded.window_start) "
        "RETURNING requests");
    if (!stmt) return stmt.error();
    stmt->bind(1, key).bind(2, core::to_unix(window_start));
    auto row = stmt->step("count a request");
    if (!row) return row.error();
    const auto count = static_cast<std::uint64_t>(stmt->int64(0));
    auto done = stmt->step("count a request");
    if (!done) return done.error();
    return count;
}

core::Result<void> SqliteMetadataStore::forget_request_counts(core::TimePoint before) {
    std::lock_guard lock(mutex_);
    auto stmt = Statement::prepare(db_.get(), "DELETE FROM request_counts WHERE window_start < ?");
    if (!stmt) return stmt.error();
    stmt->bind(1, core::to_unix(before));
    return run(*stmt, "forget request counts");
}

}  // namespace audiodrop::metadata
