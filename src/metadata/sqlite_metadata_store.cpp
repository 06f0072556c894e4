#include "metadata/sqlite_metadata_store.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <semaphore>
#include <thread>

#include "metadata/sql_encoding.hpp"
#include "metadata/sqlite_schema.hpp"
#include "metadata/sqlite_store_access.hpp"

namespace audiodrop::metadata {
namespace {

using sql::from_sql;
using sql::kUploadColumns;
using sql::to_sql;
using sql::to_sql_limit;
using sqlite::is_uniqueness_violation;
using sqlite::run;
using sqlite::Statement;

// Another process may hold the write lock for a moment (a migration, a checkpoint);
// wait that long before reporting the store unavailable.
constexpr int kBusyTimeoutMs = 5000;

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
    u.audio = s.text(16);
    u.audio_problem = s.text(17);
    return u;
}

// token_hash, client_id, expires_at, token_generation
RefreshToken refresh_token_row(const Statement& s) {
    return RefreshToken{s.text(0), s.text(1), core::from_unix(s.int64(2)), s.int64(3)};
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

// Writes that share one transaction at most: a bound on how long the first waits.
constexpr std::size_t kMaxBatch = 512;

}  // namespace

namespace sqlite {

core::Result<Connection> open_connection(const std::string& path, int flags) {
    sqlite3* raw = nullptr;
    // NOMUTEX: each connection has one user at a time (the batch leader, or a reader
    // taken from the pool).
    const int rc = sqlite3_open_v2(path.c_str(), &raw, flags | SQLITE_OPEN_NOMUTEX, nullptr);
    sqlite::Connection db{raw};
    if (rc != SQLITE_OK) return sqlite::to_error(db.get(), rc, "open the database at " + path);
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), kBusyTimeoutMs);
    // Pages are read through a mapping of the file rather than copied in by read(),
    // and a writer touching five indexes per upload keeps them in its own cache.
    for (const char* pragma : {"PRAGMA mmap_size = 1073741824", "PRAGMA cache_size = -65536"}) {
        AUDIODROP_TRY(sqlite::exec(db.get(), pragma, "configure the connection"));
    }
    return db;
}

}  // namespace sqlite

SqliteMetadataStore::SqliteMetadataStore(std::string path, sqlite::Connection writer)
    : path_(std::move(path)), writer_(std::move(writer)), committer_([this] { commit_loop(); }) {}

SqliteMetadataStore::~SqliteMetadataStore() {
    {
        std::lock_guard lock(queue_mutex_);
        stopping_ = true;  // what is queued is still committed
    }
    queued_changed_.notify_all();
    committer_.join();
}

int SqliteMetadataStore::schema_version() { return sqlite::latest_schema_version(); }

core::Result<std::unique_ptr<SqliteMetadataStore>> SqliteMetadataStore::open(
    const std::string& path) {
    AUDIODROP_TRY_ASSIGN(auto db,
                         sqlite::open_connection(path, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE));
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
    return std::unique_ptr<SqliteMetadataStore>(new SqliteMetadataStore(path, std::move(db)));
}

void SqliteMetadataStore::enqueue(std::shared_ptr<PendingWrite> w) {
    {
        std::lock_guard lock(queue_mutex_);
        if (!stopping_) {
            queued_.push_back(std::move(w));
            w = nullptr;
        }
    }
    if (w) {
        w->fail(core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                 "The metadata store is closing."));
        w->finished();
        return;
    }
    queued_changed_.notify_one();
}

void SqliteMetadataStore::commit_loop() {
    pthread_setname_np(pthread_self(), "sqlite-commit");
    std::vector<std::shared_ptr<PendingWrite>> batch;
    std::unique_lock lock(queue_mutex_);
    for (;;) {
        queued_changed_.wait(lock, [this] { return stopping_ || !queued_.empty(); });
        if (queued_.empty()) return;  // stopping, and nothing left
        // Everything that queued while the last batch committed, up to a bound.
        const auto n = static_cast<long>(std::min(queued_.size(), kMaxBatch));
        batch.assign(queued_.begin(), queued_.begin() + n);
        queued_.erase(queued_.begin(), queued_.begin() + n);
        lock.unlock();
        commit_batch(batch);
        for (const auto& w : batch) w->finished();
        batch.clear();
        lock.lock();
    }
}

void SqliteMetadataStore::commit_batch(const std::vector<std::shared_ptr<PendingWrite>>& batch) {
    const auto fail_all = [&](const core::Error& e) {
        for (const auto& w : batch) w->fail(e);
    };
    auto tx = sqlite::Transaction::begin_immediate(writer_);
    if (!tx) return fail_all(tx.error());
    for (const auto& w : batch) {
        // Each write is one statement, and SQLite undoes a statement that fails (a
        // quota, a duplicate) without touching the rest of the transaction...
        w->run(writer_);
        if (sqlite3_get_autocommit(writer_.db()) != 0) {
            // ...unless the failure was one that ends the transaction (a full disk, an
            // I/O error): then nothing in the batch happened.
            return fail_all(sqlite::to_error(writer_.db(), sqlite3_errcode(writer_.db()),
                                             "write a batch of changes"));
        }
    }
    // Until here no write has been reported; if the commit fails, none happened.
    if (auto committed = tx->commit(); !committed) fail_all(committed.error());
}

core::Result<void> SqliteMetadataStore::create_partner(const Partner& p) {
    return write([&](sqlite::Session& s) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto stmt,
                             s.statement("INSERT INTO partners (client_id, name, region, "
                                         "secret_hash, created_at) VALUES (?, ?, ?, ?, ?)"));
        stmt.bind(1, p.client_id)
            .bind(2, p.name)
            .bind(3, p.region)
            .bind(4, p.secret_hash)
            .bind(5, core::to_unix(p.created_at));
        const int rc = stmt.step_raw();
        if (is_uniqueness_violation(rc)) {
            return core::make_error(core::ErrorKind::conflict, "partner_exists",
                                    "A partner with client_id " + p.client_id + " exists already.");
        }
        if (rc != SQLITE_DONE) return sqlite::to_error(s.db(), rc, "create a partner");
        return {};
    });
}

core::Result<void> SqliteMetadataStore::add_refresh_token(const RefreshToken& t) {
    return write([&](sqlite::Session& s) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("INSERT INTO refresh_tokens (token_hash, "
                                                    "client_id, expires_at, token_generation) "
                                                    "VALUES (?, ?, ?, ?)"));
        stmt.bind(1, t.token_hash)
            .bind(2, t.client_id)
            .bind(3, core::to_unix(t.expires_at))
            .bind(4, t.token_generation);
        const int rc = stmt.step_raw();
        if (is_uniqueness_violation(rc)) {
            return core::make_error(core::ErrorKind::conflict, "refresh_token_exists",
                                    "This refresh token is stored already.");
        }
        if (rc != SQLITE_DONE) return sqlite::to_error(s.db(), rc, "store a refresh token");
        return {};
    });
}

core::Result<std::optional<RefreshToken>> SqliteMetadataStore::find_refresh_token(
    const std::string& token_hash, core::TimePoint now) {
    return read([&](sqlite::Session& s) -> core::Result<std::optional<RefreshToken>> {
        AUDIODROP_TRY_ASSIGN(
            auto stmt,
            s.statement("SELECT token_hash, client_id, expires_at, token_generation "
                        "FROM refresh_tokens "
                        "WHERE token_hash = ?1 AND spent_at IS NULL AND expires_at > ?2"));
        stmt.bind(1, token_hash).bind(2, core::to_unix(now));
        AUDIODROP_TRY_ASSIGN(const bool found, stmt.step("read a refresh token"));
        if (!found) return std::optional<RefreshToken>();
        return std::optional<RefreshToken>(refresh_token_row(stmt));
    });
}

core::Result<std::optional<RefreshToken>> SqliteMetadataStore::spend_refresh_token(
    const std::string& token_hash, core::TimePoint now) {
    return write([&](sqlite::Session& s) -> core::Result<std::optional<RefreshToken>> {
        // One statement decides and marks, so two callers can never both see it unspent.
        AUDIODROP_TRY_ASSIGN(
            auto stmt, s.statement("UPDATE refresh_tokens SET spent_at = ?1 "
                                   "WHERE token_hash = ?2 AND spent_at IS NULL AND expires_at > ?1 "
                                   "RETURNING token_hash, client_id, expires_at, "
                                   "token_generation"));
        stmt.bind(1, core::to_unix(now)).bind(2, token_hash);
        AUDIODROP_TRY_ASSIGN(const bool found, stmt.step("spend a refresh token"));
        if (!found) return std::optional<RefreshToken>();
        RefreshToken t = refresh_token_row(stmt);
        AUDIODROP_TRY(stmt.step("spend a refresh token"));
        return std::optional<RefreshToken>(std::move(t));
    });
}

namespace {

std::int64_t quota_limit(std::uint64_t limit) {
    return static_cast<std::int64_t>(std::min<std::uint64_t>(limit, INT64_MAX));
}

// What the owner of `u` has open, read after an insert found no room, to say why.
core::Result<OpenUploads> open_uploads(sqlite::Session& s, const UploadRecord& u) {
    AUDIODROP_TRY_ASSIGN(
        auto stmt,
        s.statement("SELECT coalesce((SELECT open FROM open_upload_counts WHERE client_id = ?1 "
                    "AND user_id = ?2), 0), coalesce((SELECT open FROM partner_open_uploads "
                    "WHERE client_id = ?1), 0), coalesce((SELECT bytes FROM "
                    "partner_open_uploads WHERE client_id = ?1), 0)"));
    stmt.bind(1, u.client_id).bind(2, u.user_id);
    AUDIODROP_TRY(stmt.step("count open uploads"));
    return OpenUploads{from_sql(stmt.int64(0)), from_sql(stmt.int64(1)), from_sql(stmt.int64(2))};
}

// The one statement of create_upload.
core::Result<void> insert_upload(sqlite::Session& s, const UploadRecord& u,
                                 const UploadQuota& quota) {
    // open_upload_counts and partner_open_uploads are kept by triggers (schemas 3 and
    // 5) in this same transaction.
    AUDIODROP_TRY_ASSIGN(
        auto stmt,
        s.statement("INSERT INTO uploads (" + std::string(kUploadColumns) +
                    ") SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ? "
                    "WHERE coalesce((SELECT open FROM open_upload_counts WHERE client_id = ?3 "
                    "AND user_id = ?4), 0) < ?19 AND coalesce((SELECT open < ?20 AND bytes <= "
                    "?21 - ?5 FROM partner_open_uploads WHERE client_id = ?3), ?5 <= ?21)"));
    std::optional<std::int64_t> completed_at;
    if (u.completed_at) completed_at = core::to_unix(*u.completed_at);
    stmt.bind(1, u.file_id)
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
        .bind(17, u.audio)
        .bind(18, u.audio_problem)
        .bind(19, quota_limit(quota.open_per_user))
        .bind(20, quota_limit(quota.open_per_partner))
        .bind(21, quota_limit(quota.bytes_per_partner));
    const int rc = stmt.step_raw();
    if (is_uniqueness_violation(rc)) {
        return core::make_error(core::ErrorKind::conflict, "upload_exists",
                                "An upload with file_id " + u.file_id + " or upload_id " +
                                    u.upload_id + " exists already.");
    }
    if (rc != SQLITE_DONE) return sqlite::to_error(s.db(), rc, "create an upload");
    if (sqlite3_changes(s.db()) == 0) {
        AUDIODROP_TRY_ASSIGN(const auto open, open_uploads(s, u));
        return quota_refusal(u, quota, open);
    }
    return {};
}

}  // namespace

core::Result<void> SqliteMetadataStore::create_upload(const UploadRecord& u,
                                                      const UploadQuota& quota) {
    return write([&](sqlite::Session& s) { return insert_upload(s, u, quota); });
}

void SqliteMetadataStore::create_upload_async(const UploadRecord& u, const UploadQuota& quota,
                                              std::function<void(core::Result<void>)> done) {
    write_async([u, quota](sqlite::Session& s) { return insert_upload(s, u, quota); },
                std::move(done));
}

core::Result<std::optional<UploadRecord>> SqliteMetadataStore::find_upload(
    const std::string& file_id) {
    return read([&](sqlite::Session& s) -> core::Result<std::optional<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(kUploadColumns) +
                                                    " FROM uploads WHERE file_id = ?"));
        stmt.bind(1, file_id);
        AUDIODROP_TRY_ASSIGN(const bool found, stmt.step("read an upload"));
        if (!found) return std::optional<UploadRecord>();
        AUDIODROP_TRY_ASSIGN(auto u, read_upload(stmt));
        return std::optional<UploadRecord>(std::move(u));
    });
}

core::Result<std::uint64_t> SqliteMetadataStore::count_open_uploads(const std::string& client_id,
                                                                    const std::string& user_id) {
    return read([&](sqlite::Session& s) -> core::Result<std::uint64_t> {
        AUDIODROP_TRY_ASSIGN(auto stmt,
                             s.statement("SELECT coalesce((SELECT open FROM open_upload_counts "
                                         "WHERE client_id = ? AND user_id = ?), 0)"));
        stmt.bind(1, client_id).bind(2, user_id);
        AUDIODROP_TRY(stmt.step("count open uploads"));
        return from_sql(stmt.int64(0));
    });
}

core::Result<bool> SqliteMetadataStore::mark_completed(const std::string& file_id,
                                                       const Completion& completion,
                                                       const OutboxEvent* event) {
    return write([&](sqlite::Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<bool> {
            AUDIODROP_TRY_ASSIGN(
                auto stmt, s.statement("UPDATE uploads SET state = 'completed', file_md5 = ?, "
                                       "part_list_digest = ?, completed_at = ?, audio = ?, "
                                       "audio_problem = ? WHERE file_id = ? AND state = 'open'"));
            stmt.bind(1, completion.file_md5)
                .bind(2, completion.part_list_digest)
                .bind(3, core::to_unix(completion.completed_at))
                .bind(4, completion.audio)
                .bind(5, completion.audio_problem)
                .bind(6, file_id);
            AUDIODROP_TRY(run(stmt, "complete an upload"));
            if (sqlite3_changes(s.db()) == 0) return false;
            if (event) AUDIODROP_TRY(sqlite::insert_event(s, *event));
            return true;
        });
    });
}

core::Result<bool> SqliteMetadataStore::transition(const std::string& file_id, UploadState from,
                                                   UploadState to, const OutboxEvent* event) {
    return write([&](sqlite::Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<bool> {
            AUDIODROP_TRY_ASSIGN(
                auto stmt,
                s.statement("UPDATE uploads SET state = ?3 WHERE file_id = ?1 AND state = ?2"));
            stmt.bind(1, file_id).bind(2, to_string(from)).bind(3, to_string(to));
            AUDIODROP_TRY(run(stmt, "change the state of an upload"));
            if (sqlite3_changes(s.db()) == 0) return false;
            if (event) AUDIODROP_TRY(sqlite::insert_event(s, *event));
            return true;
        });
    });
}

core::Result<void> SqliteMetadataStore::remove_upload(const std::string& file_id,
                                                      const OutboxEvent* event) {
    return write([&](sqlite::Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<void> {
            AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("DELETE FROM uploads WHERE file_id = ?"));
            stmt.bind(1, file_id);
            AUDIODROP_TRY(run(stmt, "remove an upload"));
            if (event && sqlite3_changes(s.db()) > 0) {
                AUDIODROP_TRY(sqlite::insert_event(s, *event));
            }
            return {};
        });
    });
}

core::Result<std::vector<UploadRecord>> SqliteMetadataStore::find_expired_open(core::TimePoint now,
                                                                               std::size_t limit) {
    return read([&](sqlite::Session& s) -> core::Result<std::vector<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(kUploadColumns) +
                                                    " FROM uploads "
                                                    "WHERE state = 'open' AND expires_at < ? "
                                                    "ORDER BY expires_at, file_id LIMIT ?"));
        stmt.bind(1, core::to_unix(now)).bind(2, to_sql_limit(limit));
        return read_uploads(stmt, "find expired uploads");
    });
}

core::Result<std::vector<UploadRecord>> SqliteMetadataStore::find_abandoned(std::size_t limit) {
    return read([&](sqlite::Session& s) -> core::Result<std::vector<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(kUploadColumns) +
                                                    " FROM uploads "
                                                    "WHERE state IN ('aborted', 'expired') "
                                                    "ORDER BY expires_at, file_id LIMIT ?"));
        stmt.bind(1, to_sql_limit(limit));
        return read_uploads(stmt, "find abandoned uploads");
    });
}

core::Result<std::uint64_t> SqliteMetadataStore::count_requests(const std::string& key,
                                                                core::TimePoint window_start,
                                                                std::uint64_t requests) {
    return write([&](sqlite::Session& s) -> core::Result<std::uint64_t> {
        // SET reads the row as it was, so both columns see the old window_start.
        AUDIODROP_TRY_ASSIGN(
            auto stmt, s.statement("INSERT INTO request_counts (key, window_start, requests) "
                                   "VALUES (?1, ?2, ?3) ON CONFLICT (key) DO UPDATE SET "
                                   "requests = CASE WHEN window_start >= excluded.window_start "
                                   "THEN requests + ?3 ELSE ?3 END, "
                                   "window_start = max(window_start, excluded.window_start) "
                                   "RETURNING requests"));
        stmt.bind(1, key).bind(2, core::to_unix(window_start)).bind(3, to_sql(requests));
        AUDIODROP_TRY(stmt.step("count a request"));
        const auto count = static_cast<std::uint64_t>(stmt.int64(0));
        AUDIODROP_TRY(stmt.step("count a request"));
        return count;
    });
}

core::Result<void> SqliteMetadataStore::forget_request_counts(core::TimePoint before) {
    return write([&](sqlite::Session& s) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto stmt,
                             s.statement("DELETE FROM request_counts WHERE window_start < ?"));
        stmt.bind(1, core::to_unix(before));
        return run(stmt, "forget request counts");
    });
}

}  // namespace audiodrop::metadata
