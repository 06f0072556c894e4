#include "metadata/postgres_metadata_store.hpp"

#include <algorithm>
#include <chrono>
#include <thread>

#include "metadata/postgres_schema.hpp"
#include "metadata/postgres_store_access.hpp"
#include "metadata/sql_encoding.hpp"

namespace audiodrop::metadata {
namespace {

using postgres::Connection;
using postgres::Params;
using postgres::QueryResult;
using sql::from_sql;
using sql::kUploadColumns;
using sql::to_sql;
using sql::to_sql_limit;

// The advisory-lock key space of the per-owner quota lock (two int4 keys, so it never
// meets the one-bigint migration lock); the second key is a hash of the owner.
constexpr std::int64_t kQuotaLockSpace = 0x61647175;  // "adqu"

bool is_uniqueness_violation(const QueryResult& r) { return r.sqlstate() == "23505"; }

// The row (token_hash, client_id, expires_at, token_generation) if there is one.
core::Result<std::optional<RefreshToken>> refresh_token_row(const QueryResult& r) {
    if (r.rows() == 0) return std::optional<RefreshToken>();
    AUDIODROP_TRY_ASSIGN(const std::int64_t expires_at, r.int64(0, 2));
    AUDIODROP_TRY_ASSIGN(const std::int64_t generation, r.int64(0, 3));
    return std::optional<RefreshToken>(
        RefreshToken{r.text(0, 0), r.text(0, 1), core::from_unix(expires_at), generation});
}

core::Result<UploadRecord> read_upload(const QueryResult& r, int row) {
    UploadRecord u;
    u.file_id = r.text(row, 0);
    u.upload_id = r.text(row, 1);
    u.client_id = r.text(row, 2);
    u.user_id = r.text(row, 3);
    AUDIODROP_TRY_ASSIGN(const std::int64_t filesize, r.int64(row, 4));
    u.filesize = from_sql(filesize);
    u.filetype = r.text(row, 5);
    AUDIODROP_TRY_ASSIGN(const std::int64_t chunk_size, r.int64(row, 6));
    u.chunk_size = from_sql(chunk_size);
    AUDIODROP_TRY_ASSIGN(const std::int64_t part_count, r.int64(row, 7));
    u.part_count = static_cast<std::uint32_t>(part_count);
    u.object_key = r.text(row, 8);
    u.storage_upload_id = r.text(row, 9);
    AUDIODROP_TRY_ASSIGN(u.state, sql::stored_state(u.file_id, r.text(row, 10)));
    AUDIODROP_TRY_ASSIGN(const std::int64_t created_at, r.int64(row, 11));
    u.created_at = core::from_unix(created_at);
    AUDIODROP_TRY_ASSIGN(const std::int64_t expires_at, r.int64(row, 12));
    u.expires_at = core::from_unix(expires_at);
    if (!r.is_null(row, 13)) {
        AUDIODROP_TRY_ASSIGN(const std::int64_t completed_at, r.int64(row, 13));
        u.completed_at = core::from_unix(completed_at);
    }
    u.file_md5 = r.text(row, 14);
    u.part_list_digest = r.text(row, 15);
    u.audio = r.text(row, 16);
    u.audio_problem = r.text(row, 17);
    return u;
}

core::Result<std::vector<UploadRecord>> read_uploads(const QueryResult& r) {
    std::vector<UploadRecord> out;
    out.reserve(static_cast<std::size_t>(r.rows()));
    for (int row = 0; row < r.rows(); ++row) {
        AUDIODROP_TRY_ASSIGN(auto u, read_upload(r, row));
        out.push_back(std::move(u));
    }
    return out;
}

// The upload's columns as parameters $1..$18, in kUploadColumns order.
Params upload_params(const UploadRecord& u) {
    std::optional<std::int64_t> completed_at;
    if (u.completed_at) completed_at = core::to_unix(*u.completed_at);
    Params p;
    p.add(u.file_id)
        .add(u.upload_id)
        .add(u.client_id)
        .add(u.user_id)
        .add(to_sql(u.filesize))
        .add(u.filetype)
        .add(to_sql(u.chunk_size))
        .add(std::int64_t{u.part_count})
        .add(u.object_key)
        .add(u.storage_upload_id)
        .add(to_string(u.state))
        .add(core::to_unix(u.created_at))
        .add(core::to_unix(u.expires_at))
        .add(completed_at)
        .add(u.file_md5)
        .add(u.part_list_digest)
        .add(u.audio)
        .add(u.audio_problem);
    return p;
}

}  // namespace

PostgresMetadataStore::PostgresMetadataStore(std::unique_ptr<postgres::ConnectionPool> pool)
    : pool_(std::move(pool)) {}

PostgresMetadataStore::~PostgresMetadataStore() = default;

int PostgresMetadataStore::schema_version() { return postgres::latest_schema_version(); }

core::Result<std::unique_ptr<PostgresMetadataStore>> PostgresMetadataStore::open(
    const std::string& url, Options options) {
    AUDIODROP_TRY_ASSIGN(auto settings, postgres::parse_settings(url, options.connect_timeout,
                                                                 options.statement_timeout));
    auto pool = std::make_unique<postgres::ConnectionPool>(std::move(settings), options.size,
                                                           options.acquire_timeout);
    std::unique_ptr<PostgresMetadataStore> store(new PostgresMetadataStore(std::move(pool)));
    AUDIODROP_TRY(store->with_connection([](Connection& c) { return postgres::migrate(c); }));
    return store;
}

core::Result<void> PostgresMetadataStore::create_partner(const Partner& p) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        const QueryResult r = c.exec_raw(
            "INSERT INTO partners (client_id, name, region, secret_hash, created_at) "
            "VALUES ($1, $2, $3, $4, $5)",
            Params()
                .add(p.client_id)
                .add(p.name)
                .add(p.region)
                .add(p.secret_hash)
                .add(core::to_unix(p.created_at)));
        if (is_uniqueness_violation(r)) {
            return core::make_error(core::ErrorKind::conflict, "partner_exists",
                                    "A partner with client_id " + p.client_id + " exists already.");
        }
        if (!r.ok()) return c.to_error(r, "create a partner");
        return {};
    });
}

core::Result<void> PostgresMetadataStore::add_refresh_token(const RefreshToken& t) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        const QueryResult r = c.exec_raw(
            "INSERT INTO refresh_tokens (token_hash, client_id, expires_at, token_generation) "
            "VALUES ($1, $2, $3, $4)",
            Params()
                .add(t.token_hash)
                .add(t.client_id)
                .add(core::to_unix(t.expires_at))
                .add(t.token_generation));
        if (is_uniqueness_violation(r)) {
            return core::make_error(core::ErrorKind::conflict, "refresh_token_exists",
                                    "This refresh token is stored already.");
        }
        if (!r.ok()) return c.to_error(r, "store a refresh token");
        return {};
    });
}

core::Result<std::optional<RefreshToken>> PostgresMetadataStore::find_refresh_token(
    const std::string& token_hash, core::TimePoint now) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<RefreshToken>> {
        AUDIODROP_TRY_ASSIGN(
            auto r,
            c.exec("SELECT token_hash, client_id, expires_at, token_generation "
                   "FROM refresh_tokens "
                   "WHERE token_hash = $1 AND spent_at IS NULL AND expires_at > $2",
                   Params().add(token_hash).add(core::to_unix(now)), "read a refresh token"));
        return refresh_token_row(r);
    });
}

core::Result<std::optional<RefreshToken>> PostgresMetadataStore::spend_refresh_token(
    const std::string& token_hash, core::TimePoint now) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<RefreshToken>> {
        // One statement decides and marks, so two callers can never both see it unspent.
        AUDIODROP_TRY_ASSIGN(
            auto r,
            c.exec("UPDATE refresh_tokens SET spent_at = $1 "
                   "WHERE token_hash = $2 AND spent_at IS NULL AND expires_at > $1 "
                   "RETURNING token_hash, client_id, expires_at, token_generation",
                   Params().add(core::to_unix(now)).add(token_hash), "spend a refresh token"));
        return refresh_token_row(r);
    });
}

core::Result<void> PostgresMetadataStore::create_upload(const UploadRecord& u,
                                                        const UploadQuota& quota) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        // Every create for this partner, on any connection, queues here until the one
        // ahead commits; the counts below then see its row.
        AUDIODROP_TRY(c.exec("SELECT pg_advisory_xact_lock($1::int, hashtext($2::text))",
                             Params().add(kQuotaLockSpace).add(u.client_id),
                             "lock the partner's upload quota"));
        const auto limit = [](std::uint64_t v) {
            return static_cast<std::int64_t>(std::min<std::uint64_t>(v, INT64_MAX));
        };
        // Unlimited is NULL, so no arithmetic on it can overflow.
        const auto byte_limit = quota.bytes_per_partner >= kNoUploadQuota
                                    ? std::nullopt
                                    : std::optional(limit(quota.bytes_per_partner));
        Params params = upload_params(u);
        params.add(limit(quota.open_per_user)).add(limit(quota.open_per_partner)).add(byte_limit);
        const QueryResult r = c.exec_raw(
            "INSERT INTO uploads (" + std::string(kUploadColumns) +
                ") SELECT $1::text, $2::text, $3::text, $4::text, $5::bigint, $6::text, "
                "$7::bigint, $8::bigint, $9::text, $10::text, $11::text, $12::bigint, "
                "$13::bigint, $14::bigint, $15::text, $16::text, $17::text, $18::text "
                "WHERE (SELECT count(*) FROM uploads WHERE client_id = $3::text "
                "AND user_id = $4::text AND state = 'open') < $19::bigint "
                "AND coalesce((SELECT open < $20::bigint AND ($21::bigint IS NULL OR bytes <= "
                "$21::bigint - $5::bigint) FROM partner_open_uploads WHERE client_id = $3::text), "
                "$21::bigint IS NULL OR $5::bigint <= $21::bigint)",
            params);
        if (is_uniqueness_violation(r)) {
            return core::make_error(core::ErrorKind::conflict, "upload_exists",
                                    "An upload with file_id " + u.file_id + " or upload_id " +
                                        u.upload_id + " exists already.");
        }
        if (!r.ok()) return c.to_error(r, "create an upload");
        if (r.affected_rows() == 0) {
            AUDIODROP_TRY_ASSIGN(
                auto counts,
                c.exec("SELECT (SELECT count(*) FROM uploads WHERE client_id = $1 AND "
                       "user_id = $2 AND state = 'open'), coalesce((SELECT open FROM "
                       "partner_open_uploads WHERE client_id = $1), 0), coalesce((SELECT bytes "
                       "FROM partner_open_uploads WHERE client_id = $1), 0)",
                       Params().add(u.client_id).add(u.user_id), "count open uploads"));
            AUDIODROP_TRY_ASSIGN(const std::int64_t user, counts.int64(0, 0));
            AUDIODROP_TRY_ASSIGN(const std::int64_t partner, counts.int64(0, 1));
            AUDIODROP_TRY_ASSIGN(const std::int64_t bytes, counts.int64(0, 2));
            return quota_refusal(
                u, quota,
                OpenUploads{static_cast<std::uint64_t>(user), static_cast<std::uint64_t>(partner),
                            static_cast<std::uint64_t>(bytes)});
        }
        return tx.commit();
    });
}

core::Result<std::optional<UploadRecord>> PostgresMetadataStore::find_upload(
    const std::string& file_id) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT " + std::string(kUploadColumns) +
                                                " FROM uploads WHERE file_id = $1",
                                            Params().add(file_id), "read an upload"));
        if (r.rows() == 0) return std::optional<UploadRecord>();
        AUDIODROP_TRY_ASSIGN(auto u, read_upload(r, 0));
        return std::optional<UploadRecord>(std::move(u));
    });
}

core::Result<std::uint64_t> PostgresMetadataStore::count_open_uploads(const std::string& client_id,
                                                                      const std::string& user_id) {
    return with_connection([&](Connection& c) -> core::Result<std::uint64_t> {
        AUDIODROP_TRY_ASSIGN(auto r,
                             c.exec("SELECT count(*) FROM uploads "
                                    "WHERE client_id = $1 AND user_id = $2 "
                                    "AND state = 'open'",
                                    Params().add(client_id).add(user_id), "count open uploads"));
        AUDIODROP_TRY_ASSIGN(const std::int64_t n, r.int64(0, 0));
        return from_sql(n);
    });
}

core::Result<bool> PostgresMetadataStore::mark_completed(const std::string& file_id,
                                                         const Completion& completion,
                                                         const OutboxEvent* event) {
    return with_connection([&](Connection& c) -> core::Result<bool> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("UPDATE uploads SET state = 'completed', "
                                            "file_md5 = $1, part_list_digest = $2, "
                                            "completed_at = $3, audio = $4, audio_problem = $5 "
                                            "WHERE file_id = $6 AND state = 'open'",
                                            Params()
                                                .add(completion.file_md5)
                                                .add(completion.part_list_digest)
                                                .add(core::to_unix(completion.completed_at))
                                                .add(completion.audio)
                                                .add(completion.audio_problem)
                                                .add(file_id),
                                            "complete an upload"));
        if (r.affected_rows() == 0) return false;
        if (event) AUDIODROP_TRY(postgres::insert_event(c, *event));
        AUDIODROP_TRY(tx.commit());
        return true;
    });
}

core::Result<bool> PostgresMetadataStore::transition(const std::string& file_id, UploadState from,
                                                     UploadState to, const OutboxEvent* event) {
    return with_connection([&](Connection& c) -> core::Result<bool> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY_ASSIGN(
            auto r, c.exec("UPDATE uploads SET state = $3 WHERE file_id = $1 AND state = $2",
                           Params().add(file_id).add(to_string(from)).add(to_string(to)),
                           "change the state of an upload"));
        if (r.affected_rows() == 0) return false;
        if (event) AUDIODROP_TRY(postgres::insert_event(c, *event));
        AUDIODROP_TRY(tx.commit());
        return true;
    });
}

core::Result<void> PostgresMetadataStore::remove_upload(const std::string& file_id,
                                                        const OutboxEvent* event) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("DELETE FROM uploads WHERE file_id = $1",
                                            Params().add(file_id), "remove an upload"));
        if (event && r.affected_rows() > 0) AUDIODROP_TRY(postgres::insert_event(c, *event));
        return tx.commit();
    });
}

// file_id sorts bytewise (COLLATE "C"), as in SQLite, whatever the database's locale.
core::Result<std::vector<UploadRecord>> PostgresMetadataStore::find_expired_open(
    core::TimePoint now, std::size_t limit) {
    return with_connection([&](Connection& c) -> core::Result<std::vector<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto r,
                             c.exec("SELECT " + std::string(kUploadColumns) +
                                        " FROM uploads "
                                        "WHERE state = 'open' AND expires_at < $1 "
                                        "ORDER BY expires_at, file_id COLLATE \"C\" "
                                        "LIMIT $2",
                                    Params().add(core::to_unix(now)).add(to_sql_limit(limit)),
                                    "find expired uploads"));
        return read_uploads(r);
    });
}

core::Result<std::vector<UploadRecord>> PostgresMetadataStore::find_abandoned(std::size_t limit) {
    return with_connection([&](Connection& c) -> core::Result<std::vector<UploadRecord>> {
        AUDIODROP_TRY_ASSIGN(auto r,
                             c.exec("SELECT " + std::string(kUploadColumns) +
                                        " FROM uploads "
                                        "WHERE state IN ('aborted', 'expired') "
                                        "ORDER BY expires_at, file_id COLLATE \"C\" "
                                        "LIMIT $1",
                                    Params().add(to_sql_limit(limit)), "find abandoned uploads"));
        return read_uploads(r);
    });
}

core::Result<std::uint64_t> PostgresMetadataStore::count_requests(const std::string& key,
                                                                  core::TimePoint window_start,
                                                                  std::uint64_t requests) {
    return with_connection([&](Connection& c) -> core::Result<std::uint64_t> {
        // The upsert locks the key's row, so concurrent counts queue and each sees the
        // one before; SET reads the row as it was.
        AUDIODROP_TRY_ASSIGN(
            auto r, c.exec("INSERT INTO request_counts AS rc (key, window_start, requests) "
                           "VALUES ($1, $2, $3) ON CONFLICT (key) DO UPDATE SET "
                           "requests = CASE WHEN rc.window_start >= excluded.window_start "
                           "THEN rc.requests + $3 ELSE $3 END, "
                           "window_start = GREATEST(rc.window_start, excluded.window_start) "
                           "RETURNING requests",
                           Params().add(key).add(core::to_unix(window_start)).add(to_sql(requests)),
                           "count requests"));
        AUDIODROP_TRY_ASSIGN(const std::int64_t requests, r.int64(0, 0));
        return static_cast<std::uint64_t>(requests);
    });
}

core::Result<void> PostgresMetadataStore::forget_request_counts(core::TimePoint before) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        AUDIODROP_TRY(c.exec("DELETE FROM request_counts WHERE window_start < $1",
                             Params().add(core::to_unix(before)), "forget request counts"));
        return {};
    });
}

}  // namespace audiodrop::metadata
