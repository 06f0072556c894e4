#include "metadata/postgres_schema.hpp"

#include <array>
#include <string>
#include <string_view>

namespace audiodrop::metadata::postgres {
namespace {

// The advisory lock that serialises migrations: one key for the whole database
// (the bytes of "audiodro"). Schemas in one database share it, which only costs a
// moment's wait.
constexpr std::int64_t kMigrationLockKey = 0x617564696f64726f;

// Same layout as the SQLite store. Times are unix seconds; filesize and chunk_size
// hold a uint64 bit pattern in a BIGINT, as SQLite's INTEGER does.
constexpr std::array<std::string_view, 7> kMigrations = {
    R"sql(
CREATE TABLE partners (
    client_id   TEXT PRIMARY KEY,
    name        TEXT NOT NULL,
    region      TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    created_at  BIGINT NOT NULL
);

CREATE TABLE refresh_tokens (
    token_hash TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT
);

CREATE TABLE uploads (
    file_id           TEXT PRIMARY KEY,
    upload_id         TEXT NOT NULL UNIQUE,
    client_id         TEXT NOT NULL,
    user_id           TEXT NOT NULL,
    filesize          BIGINT NOT NULL,
    filetype          TEXT NOT NULL,
    chunk_size        BIGINT NOT NULL,
    part_count        BIGINT NOT NULL,
    object_key        TEXT NOT NULL,
    storage_upload_id TEXT NOT NULL,
    state             TEXT NOT NULL
                      CHECK (state IN ('open', 'completed', 'aborted', 'expired')),
    created_at        BIGINT NOT NULL,
    expires_at        BIGINT NOT NULL,
    completed_at      BIGINT,
    file_md5          TEXT NOT NULL,
    part_list_digest  TEXT NOT NULL
);

-- count_open_uploads and the quota in create_upload
CREATE INDEX uploads_by_owner ON uploads (client_id, user_id, state);
-- find_expired_open and find_abandoned
CREATE INDEX uploads_by_state_expiry ON uploads (state, expires_at);
)sql",
    // 2: request counts for rate limits (count_request).
    R"sql(
CREATE TABLE request_counts (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    requests     BIGINT NOT NULL
);

-- forget_request_counts
CREATE INDEX request_counts_by_window ON request_counts (window_start);
)sql",
    // 3: open uploads and their declared bytes counted per partner, kept by a trigger,
    // for the per-partner quotas.
    R"sql(
CREATE TABLE partner_open_uploads (
    client_id TEXT PRIMARY KEY,
    open      BIGINT NOT NULL,
    bytes     BIGINT NOT NULL
);

INSERT INTO partner_open_uploads (client_id, open, bytes)
    SELECT client_id, count(*), sum(filesize) FROM uploads WHERE state = 'open'
    GROUP BY client_id;

CREATE FUNCTION partner_open_uploads_keep() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'INSERT' THEN
        IF NEW.state = 'open' THEN
            INSERT INTO partner_open_uploads AS p (client_id, open, bytes)
                VALUES (NEW.client_id, 1, NEW.filesize)
                ON CONFLICT (client_id)
                DO UPDATE SET open = p.open + 1, bytes = p.bytes + EXCLUDED.bytes;
        END IF;
    ELSIF OLD.state = 'open' AND (TG_OP = 'DELETE' OR NEW.state <> 'open') THEN
        UPDATE partner_open_uploads SET open = open - 1, bytes = bytes - OLD.filesize
            WHERE client_id = OLD.client_id;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER partner_open_uploads_kept AFTER INSERT OR DELETE OR UPDATE OF state ON uploads
    FOR EACH ROW EXECUTE FUNCTION partner_open_uploads_keep();
)sql",
    // 4: token generations, for revoking a partner's tokens.
    R"sql(
ALTER TABLE partners ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
ALTER TABLE refresh_tokens ADD COLUMN token_generation BIGINT NOT NULL DEFAULT 0;
)sql",
    // 5: audio facts of completed files; webhook subscriptions and the event outbox.
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
    previous_secret_expires_at BIGINT NOT NULL,
    created_at                 BIGINT NOT NULL
);
CREATE INDEX webhook_subscriptions_by_partner ON webhook_subscriptions (client_id, created_at);

CREATE TABLE webhook_events (
    id         TEXT PRIMARY KEY,
    client_id  TEXT NOT NULL,
    type       TEXT NOT NULL,
    data       TEXT NOT NULL,
    object_key TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE INDEX webhook_events_by_time ON webhook_events (created_at);

CREATE TABLE webhook_deliveries (
    event_id        TEXT NOT NULL,
    subscription_id TEXT NOT NULL,
    state           TEXT NOT NULL CHECK (state IN ('pending', 'delivered', 'failed')),
    attempts        BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    lease_until     BIGINT NOT NULL,
    claim           TEXT NOT NULL,
    PRIMARY KEY (event_id, subscription_id)
);
-- claim_deliveries
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (state, next_attempt_at);
CREATE INDEX webhook_deliveries_by_subscription ON webhook_deliveries (subscription_id);

CREATE TABLE webhook_attempts (
    subscription_id TEXT NOT NULL,
    event_id        TEXT NOT NULL,
    attempt         BIGINT NOT NULL,
    event_type      TEXT NOT NULL,
    status          BIGINT NOT NULL,
    error           TEXT NOT NULL,
    attempted_at    BIGINT NOT NULL,
    next_attempt_at BIGINT,
    PRIMARY KEY (subscription_id, event_id, attempt)
);
CREATE INDEX webhook_attempts_by_time ON webhook_attempts (subscription_id, attempted_at);
)sql",
    // 6: partner administration: disabled partners, and deleted ones, whose tokens every
    // replica keeps refusing.
    R"sql(
ALTER TABLE partners ADD COLUMN disabled_at BIGINT;

CREATE TABLE deleted_partners (
    client_id  TEXT PRIMARY KEY,
    deleted_at BIGINT NOT NULL
);
)sql",
    // 7: the request that made an event, sent with its deliveries.
    R"sql(
ALTER TABLE webhook_events ADD COLUMN request_id TEXT NOT NULL DEFAULT '';
)sql",
};

core::Error too_new(std::int64_t version) {
    return core::make_error(core::ErrorKind::unavailable, "metadata_schema_too_new",
                            "The metadata database has schema version " + std::to_string(version) +
                                " but this build knows only up to " +
                                std::to_string(latest_schema_version()) +
                                "; run a newer audiodrop-server.");
}

// Applies migration `version` unless it is applied already.
core::Result<void> apply(Connection& c, int version) {
    auto tx = Transaction::begin(c);
    if (!tx) return tx.error();
    // Held until the transaction ends; replicas starting at once queue here.
    AUDIODROP_TRY(c.exec("SELECT pg_advisory_xact_lock($1)", Params().add(kMigrationLockKey),
                         "lock the schema for migration"));
    AUDIODROP_TRY(
        c.exec_script("CREATE TABLE IF NOT EXISTS schema_migrations ("
                      "version INTEGER PRIMARY KEY, "
                      "applied_at TIMESTAMPTZ NOT NULL DEFAULT now())",
                      "create the schema_migrations table"));
    AUDIODROP_TRY_ASSIGN(auto applied,
                         c.exec("SELECT COALESCE(max(version), 0) FROM schema_migrations", {},
                                "read the schema version"));
    AUDIODROP_TRY_ASSIGN(const std::int64_t current, applied.int64(0, 0));
    if (current > latest_schema_version()) return too_new(current);
    if (current >= version) return {};  // another replica applied it: roll back

    AUDIODROP_TRY(c.exec_script(std::string(kMigrations[static_cast<std::size_t>(version - 1)]),
                                "apply schema migration " + std::to_string(version)));
    AUDIODROP_TRY(c.exec("INSERT INTO schema_migrations (version) VALUES ($1)",
                         Params().add(std::int64_t{version}), "record the schema version"));
    return tx->commit();
}

}  // namespace

int latest_schema_version() { return static_cast<int>(kMigrations.size()); }

core::Result<void> migrate(Connection& c) {
    for (int version = 1; version <= latest_schema_version(); ++version) {
        AUDIODROP_TRY(apply(c, version));
    }
    return {};
}

}  // namespace audiodrop::metadata::postgres
