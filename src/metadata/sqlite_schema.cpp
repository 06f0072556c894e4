#include "metadata/sqlite_schema.hpp"

#include <array>
#include <string>
#include <string_view>

#include "metadata/sqlite_handle.hpp"

namespace audiodrop::metadata::sqlite {
namespace {

// STRICT tables make SQLite refuse a value of the wrong type instead of storing it.
// Times are unix seconds; filesize and chunk_size hold a uint64 bit pattern.
constexpr std::array<std::string_view, 9> kMigrations = {
    R"sql(
CREATE TABLE partners (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  INTEGER NOT NULL
) STRICT;

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
) STRICT;

CREATE TABLE uploads (
    file_id           TEXT PRIMARY KEY,
    upload_id         TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    filesize          INTEGER NOT NULL,
    filetype          TEXT NOT NULL,
    chunk_size        INTEGER NOT NULL,
    part_count        INTEGER NOT NULL,
    object_key        TEXT NOT NULL,
    storage_upload_id TEXT NOT NULL,
    state             TEXT NOT NULL
                      CHECK (state IN ('open', 'completed', 'aborted', 'expired')),
    created_at        INTEGER NOT NULL,
    expires_at        INTEGER NOT NULL,
    completed_at      INTEGER,
    file_md5          TEXT NOT NULL,
    part_list_digest  TEXT NOT NULL
) STRICT;

-- count_open_uploads
CREATE INDEX uploads_by_owner ON uploads (client_id, user_id, state);
-- find_expired_open and find_abandoned
CREATE INDEX uploads_by_state_expiry ON uploads (state, expires_at);
)sql",
    // 2: request counts for rate limits (count_request).
    R"sql(
CREATE TABLE request_counts (
    key          TEXT PRIMARY KEY,
    window_start INTEGER NOT NULL,
    requests     INTEGER NOT NULL
) STRICT;

-- forget_request_counts
CREATE INDEX request_counts_by_window ON request_counts (window_start);
)sql",
    // 3: open uploads counted per owner, kept by triggers, so the quota check at
    // create_upload costs the same however many uploads a user has started.
    R"sql(
CREATE TABLE open_upload_counts (
    client_id TEXT NOT NULL,
    user_id   TEXT NOT NULL,
    open      INTEGER NOT NULL,
    PRIMARY KEY (client_id, user_id)
) STRICT, WITHOUT ROWID;

INSERT INTO open_upload_counts (client_id, user_id, open)
    SELECT client_id, user_id, COUNT(*) FROM uploads WHERE state = 'open'
    GROUP BY client_id, user_id;

CREATE TRIGGER open_upload_counted AFTER INSERT ON uploads WHEN new.state = 'open'
BEGIN
    INSERT INTO open_upload_counts (client_id, user_id, open)
        VALUES (new.client_id, new.user_id, 1)
        ON CONFLICT (client_id, user_id) DO UPDATE SET open = open + 1;
END;

CREATE TRIGGER open_upload_closed AFTER UPDATE OF state ON uploads
    WHEN old.state = 'open' AND new.state != 'open'
BEGIN
    UPDATE open_upload_counts SET open = open - 1
        WHERE client_id = old.client_id AND user_id = old.user_id;
END;

CREATE TRIGGER open_upload_removed AFTER DELETE ON uploads WHEN old.state = 'open'
BEGIN
    UPDATE open_upload_counts SET open = open - 1
        WHERE client_id = old.client_id AND user_id = old.user_id;
END;
)sql",
    // 4: open uploads are counted in open_upload_counts; an index every insert pays for
    // and nothing reads goes.
    R"sql(
DROP INDEX uploads_by_owner;
)sql",
    // 5: open uploads and their declared bytes counted per partner, kept by triggers,
    // for the per-partner quotas.
    R"sql(
CREATE TABLE partner_open_uploads (
    client_id TEXT PRIMARY KEY,
    open      INTEGER NOT NULL,
    bytes     INTEGER NOT NULL
) STRICT, WITHOUT ROWID;

INSERT INTO partner_open_uploads (client_id, open, bytes)
    SELECT client_id, COUNT(*), SUM(filesize) FROM uploads WHERE state = 'open'
    GROUP BY client_id;

CREATE TRIGGER partner_upload_counted AFTER INSERT ON uploads WHEN new.state = 'open'
BEGIN
    INSERT INTO partner_open_uploads (client_id, open, bytes)
        VALUES (new.client_id, 1, new.filesize)
        ON CONFLICT (client_id) DO UPDATE SET open = open + 1, bytes = bytes + excluded.bytes;
END;

CREATE TRIGGER partner_upload_closed AFTER UPDATE OF state ON uploads
    WHEN old.state = 'open' AND new.state != 'open'
BEGIN
    UPDATE partner_open_uploads SET open = open - 1, bytes = bytes - old.filesize
        WHERE client_id = old.client_id;
END;

CREATE TRIGGER partner_upload_removed AFTER DELETE ON uploads WHEN old.state = 'open'
BEGIN
    UPDATE partner_open_uploads SET open = open - 1, bytes = bytes - old.filesize
        WHERE client_id = old.client_id;
END;
)sql",
    // 6: token generations, for revoking a partner's tokens.
    R"sql(
ALTER TABLE partners ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;
)sql",
    // 7: audio facts of completed files; webhook subscriptions and the event outbox.
    // Webhook times are unix milliseconds.
    R"sql(
ALTER TABLE uploads ADD COLUMN audio TEXT NOT NULL DEFAULT '';
ALTER TABLE uploads ADD COLUMN audio_problem TEXT NOT NULL DEFAULT '';

CREATE TABLE webhook_subscriptions (
    id                         TEXT PRIMARY KEY,
    client_id                  TEXT NOT NULL,
    url                        TEXT NOT NULL,
    events                     TEXT NOT NULL,
    description                TEXT NOT NULL,
    secret                     TEXT NOT NULL,
    previous_secret            TEXT NOT NULL,
    previous_secret_expires_at INTEGER NOT NULL,
    created_at                 INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_subscriptions_by_partner ON webhook_subscriptions (client_id, created_at);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    object_key TEXT NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;
CREATE INDEX webhook_events_by_time ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    lease_until     INTEGER NOT NULL,
    claim           TEXT NOT NULL,
    PRIMARY KEY (event_id, subscription_id)
) STRICT, WITHOUT ROWID;
-- claim_deliveries
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id);

CREATE TABLE webhook_attempts (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         INTEGER NOT NULL,
    event_type      TEXT NOT NULL,
    status          INTEGER NOT NULL,
    error           TEXT NOT NULL,
    attempted_at    INTEGER NOT NULL,
    next_attempt_at INTEGER,
    PRIMARY KEY (subscription_id, event_id, attempt)
) STRICT, WITHOUT ROWID;
CREATE INDEX webhook_attempts_by_time ON webhook_attempts (subscription_id, attempted_at);
)sql",
    // 8: partner administration: disabled partners, and deleted ones, whose tokens every
    // replica keeps refusing.
    R"sql(
ALTER TABLE partners ADD COLUMN disabled_at INTEGER;

CREATE TABLE deleted_partners (
    client_id  TEXT PRIMARY KEY,
    deleted_at INTEGER NOT NULL
) STRICT, WITHOUT ROWID;
)sql",
    // 9: the request that made an event, sent with its deliveries.
    R"sql(
ALTER TABLE webhook_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
)sql",
};

core::Result<int> read_version(sqlite3* db) {
    auto stmt = Statement::prepare(db, "PRAGMA user_version");
    if (!stmt) return stmt.error();
    auto row = stmt->step("read the schema version");
    if (!row) return row.error();
    return static_cast<int>(stmt->int64(0));
}

}  // namespace

int latest_schema_version() { return static_cast<int>(kMigrations.size()); }

core::Result<void> migrate(sqlite3* db) {
    auto tx = Transaction::begin_immediate(db);
    if (!tx) return tx.error();
    auto version = read_version(db);
    if (!version) return version.error();
    if (*version > latest_schema_version()) {
        return core::make_error(core::ErrorKind::unavailable, "metadata_schema_too_new",
                                "The metadata database has schema version " +
                                    std::to_string(*version) + " but this build knows only up to " +
                                    std::to_string(latest_schema_version()) +
                                    "; run a newer audiodrop-server.");
    }
    if (*version == latest_schema_version()) return {};  // nothing to do: roll back

    for (int v = *version + 1; v <= latest_schema_version(); ++v) {
        auto applied = exec(db, std::string(kMigrations[static_cast<std::size_t>(v - 1)]),
                            "apply schema migration " + std::to_string(v));
        if (!applied) return applied.error();
    }
    // PRAGMA takes no bound parameters; the value is our own integer.
    auto stamped = exec(db, "PRAGMA user_version = " + std::to_string(latest_schema_version()),
                        "record the schema version");
    if (!stamped) return stamped.error();
    return tx->commit();
}

}  // namespace audiodrop::metadata::sqlite
