// PostgresMetadataStore: webhook subscriptions, the event outbox and deliveries.

#include "metadata/postgres_store_access.hpp"
#include "metadata/sql_encoding.hpp"

namespace audiodrop::metadata {
namespace {

using postgres::Connection;
using postgres::Params;
using postgres::QueryResult;
using sql::from_unix_ms;
using sql::kWebhookColumns;
using sql::to_sql_limit;
using sql::to_unix_ms;

// Reads kWebhookColumns of `row` starting at column `first`.
core::Result<WebhookSubscription> read_webhook(const QueryResult& r, int row, int first = 0) {
    WebhookSubscription w;
    w.id = r.text(row, first);
    w.client_id = r.text(row, first + 1);
    w.url = r.text(row, first + 2);
    w.events = sql::split_events(r.text(row, first + 3));
    w.description = r.text(row, first + 4);
    w.secret = r.text(row, first + 5);
    w.previous_secret = r.text(row, first + 6);
    AUDIODROP_TRY_ASSIGN(const std::int64_t previous_expires, r.int64(row, first + 7));
    w.previous_secret_expires_at = from_unix_ms(previous_expires);
    AUDIODROP_TRY_ASSIGN(const std::int64_t created, r.int64(row, first + 8));
    w.created_at = from_unix_ms(created);
    return w;
}

core::Result<std::vector<WebhookSubscription>> read_webhooks(const QueryResult& r) {
    std::vector<WebhookSubscription> out;
    for (int row = 0; row < r.rows(); ++row) {
        AUDIODROP_TRY_ASSIGN(auto w, read_webhook(r, row));
        out.push_back(std::move(w));
    }
    return out;
}

core::Result<std::optional<WebhookSubscription>> first_webhook(const QueryResult& r) {
    if (r.rows() == 0) return std::optional<WebhookSubscription>();
    AUDIODROP_TRY_ASSIGN(auto w, read_webhook(r, 0));
    return std::optional<WebhookSubscription>(std::move(w));
}

// The optional time column of `row`, in milliseconds.
core::Result<std::optional<core::TimePoint>> optional_time(const QueryResult& r, int row,
                                                           int column) {
    if (r.is_null(row, column)) return std::optional<core::TimePoint>();
    AUDIODROP_TRY_ASSIGN(const std::int64_t ms, r.int64(row, column));
    return std::optional<core::TimePoint>(from_unix_ms(ms));
}

}  // namespace

namespace postgres {

core::Result<void> insert_event(Connection& c, const OutboxEvent& event) {
    const auto created = to_unix_ms(event.created_at);
    AUDIODROP_TRY_ASSIGN(
        auto queued,
        c.exec("INSERT INTO webhook_deliveries (event_id, subscription_id, state, attempts, "
               "next_attempt_at, lease_until, claim) "
               "SELECT $1::text, id, 'pending', 0, $2::bigint, 0, '' FROM webhook_subscriptions "
               "WHERE client_id = $3::text AND CASE WHEN $4::text = '' "
               "THEN position(',' || $5::text || ',' in ',' || events || ',') > 0 "
               "ELSE id = $4::text END",
               Params()
                   .add(event.id)
                   .add(created)
                   .add(event.client_id)
                   .add(event.only_subscription.value_or(""))
                   .add(event.type),
               "queue an event's deliveries"));
    if (queued.affected_rows() == 0) return {};  // nobody takes it
    AUDIODROP_TRY(
        c.exec("INSERT INTO webhook_events (id, client_id, type, data, object_key, "
               "created_at, request_id) VALUES ($1, $2, $3, $4, $5, $6, $7)",
               Params()
                   .add(event.id)
                   .add(event.client_id)
                   .add(event.type)
                   .add(event.data)
                   .add(event.object_key)
                   .add(created)
                   .add(event.request_id),
               "store an event"));
    return {};
}

}  // namespace postgres

core::Result<void> PostgresMetadataStore::create_webhook(const WebhookSubscription& w,
                                                         std::size_t max_per_partner) {
    return with_connection([&](Connection& c) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        // Creates of one partner take turns, so the count holds across replicas.
        AUDIODROP_TRY(c.exec("SELECT pg_advisory_xact_lock(hashtext('webhooks:' || $1))",
                             Params().add(w.client_id), "lock the partner's webhooks"));
        const QueryResult r = c.exec_raw(
            "INSERT INTO webhook_subscriptions (" + std::string(kWebhookColumns) +
                ") SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text, "
                "$8::bigint, $9::bigint WHERE (SELECT count(*) FROM webhook_subscriptions "
                "WHERE client_id = $2::text) < $10::bigint",
            Params()
                .add(w.id)
                .add(w.client_id)
                .add(w.url)
                .add(sql::join_events(w.events))
                .add(w.description)
                .add(w.secret)
                .add(w.previous_secret)
                .add(to_unix_ms(w.previous_secret_expires_at))
                .add(to_unix_ms(w.created_at))
                .add(to_sql_limit(max_per_partner)));
        if (r.sqlstate() == "23505") {
            return core::make_error(core::ErrorKind::conflict, "webhook_exists",
                                    "A webhook with id " + w.id + " exists already.");
        }
        if (!r.ok()) return c.to_error(r, "create a webhook");
        if (r.affected_rows() == 0) return sql::too_many_webhooks(max_per_partner);
        return tx.commit();
    });
}

core::Result<std::vector<WebhookSubscription>> PostgresMetadataStore::list_webhooks(
    const std::string& client_id) {
    return with_connection([&](Connection& c) -> core::Result<std::vector<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT " + std::string(kWebhookColumns) +
                                                " FROM webhook_subscriptions WHERE client_id = "
                                                "$1 ORDER BY created_at, id COLLATE \"C\"",
                                            Params().add(client_id), "list webhooks"));
        return read_webhooks(r);
    });
}

core::Result<std::optional<WebhookSubscription>> PostgresMetadataStore::find_webhook(
    const std::string& client_id, const std::string& id) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT " + std::string(kWebhookColumns) +
                                                " FROM webhook_subscriptions WHERE client_id = "
                                                "$1 AND id = $2",
                                            Params().add(client_id).add(id), "read a webhook"));
        return first_webhook(r);
    });
}

core::Result<bool> PostgresMetadataStore::delete_webhook(const std::string& client_id,
                                                         const std::string& id) {
    return with_connection([&](Connection& c) -> core::Result<bool> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("DELETE FROM webhook_subscriptions WHERE "
                                            "client_id = $1 AND id = $2",
                                            Params().add(client_id).add(id), "delete a webhook"));
        if (r.affected_rows() == 0) return false;
        for (const char* table : {"webhook_deliveries", "webhook_attempts"}) {
            AUDIODROP_TRY(
                c.exec(std::string("DELETE FROM ") + table + " WHERE subscription_id = $1",
                       Params().add(id), "delete a webhook's deliveries"));
        }
        AUDIODROP_TRY(tx.commit());
        return true;
    });
}

core::Result<std::optional<WebhookSubscription>> PostgresMetadataStore::rotate_webhook_secret(
    const std::string& client_id, const std::string& id, const std::string& secret,
    core::TimePoint previous_expires_at) {
    return with_connection([&](Connection& c) -> core::Result<std::optional<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(
            auto r,
            c.exec("UPDATE webhook_subscriptions SET previous_secret = secret, "
                   "previous_secret_expires_at = $1, secret = $2 "
                   "WHERE client_id = $3 AND id = $4 RETURNING " +
                       std::string(kWebhookColumns),
                   Params().add(to_unix_ms(previous_expires_at)).add(secret).add(client_id).add(id),
                   "rotate a webhook's secret"));
        return first_webhook(r);
    });
}

core::Result<bool> PostgresMetadataStore::add_event(const OutboxEvent& event) {
    return with_connection([&](Connection& c) -> core::Result<bool> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY(postgres::insert_event(c, event));
        AUDIODROP_TRY_ASSIGN(auto r, c.exec("SELECT count(*) FROM webhook_events WHERE id = $1",
                                            Params().add(event.id), "read an event"));
        AUDIODROP_TRY_ASSIGN(const std::int64_t stored, r.int64(0, 0));
        AUDIODROP_TRY(tx.commit());
        return stored > 0;
    });
}

core::Result<std::vector<ClaimedDelivery>> PostgresMetadataStore::claim_deliveries(
    core::TimePoint now, std::chrono::milliseconds lease, std::size_t limit,
    const std::string& claim) {
    return with_connection([&](Connection& c) -> core::Result<std::vector<ClaimedDelivery>> {
        // SKIP LOCKED: replicas claiming at once each take rows the others did not lock,
        // instead of queueing behind them and then finding them leased.
        AUDIODROP_TRY_ASSIGN(
            auto r,
            c.exec("WITH due AS (SELECT event_id, subscription_id FROM webhook_deliveries "
                   "WHERE state = 'pending' AND next_attempt_at <= $1 AND lease_until <= $1 "
                   "ORDER BY next_attempt_at LIMIT $4 FOR UPDATE SKIP LOCKED), "
                   "claimed AS (UPDATE webhook_deliveries d SET lease_until = $2, claim = $3 "
                   "FROM due WHERE d.event_id = due.event_id AND d.subscription_id = "
                   "due.subscription_id RETURNING d.event_id, d.subscription_id, d.attempts, "
                   "d.next_attempt_at) "
                   "SELECT c.attempts, e.id, e.client_id, e.type, e.data, e.object_key, "
                   "e.created_at, e.request_id, " +
                       sql::qualified_webhook_columns("s.") +
                       " FROM claimed c JOIN webhook_events e ON e.id = c.event_id "
                       "JOIN webhook_subscriptions s ON s.id = c.subscription_id "
                       "ORDER BY c.next_attempt_at",
                   Params()
                       .add(to_unix_ms(now))
                       .add(to_unix_ms(now + lease))
                       .add(claim)
                       .add(to_sql_limit(limit)),
                   "claim webhook deliveries"));
        std::vector<ClaimedDelivery> out;
        for (int row = 0; row < r.rows(); ++row) {
            ClaimedDelivery d;
            AUDIODROP_TRY_ASSIGN(const std::int64_t attempts, r.int64(row, 0));
            d.attempt = static_cast<std::uint32_t>(attempts + 1);
            d.event.id = r.text(row, 1);
            d.event.client_id = r.text(row, 2);
            d.event.type = r.text(row, 3);
            d.event.data = r.text(row, 4);
            d.event.object_key = r.text(row, 5);
            AUDIODROP_TRY_ASSIGN(const std::int64_t created, r.int64(row, 6));
            d.event.created_at = from_unix_ms(created);
            d.event.request_id = r.text(row, 7);
            AUDIODROP_TRY_ASSIGN(d.subscription, read_webhook(r, row, 8));
            d.claim = claim;
            out.push_back(std::move(d));
        }
        return out;
    });
}

core::Result<bool> PostgresMetadataStore::record_delivery_attempt(const DeliveryAttempt& a,
                                                                  const std::string& claim,
                                                                  bool delivered) {
    std::optional<std::int64_t> next;
    if (a.next_attempt_at && !delivered) next = to_unix_ms(*a.next_attempt_at);
    return with_connection([&](Connection& c) -> core::Result<bool> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        AUDIODROP_TRY_ASSIGN(
            auto r, c.exec("UPDATE webhook_deliveries SET attempts = $3, state = $4, "
                           "next_attempt_at = coalesce($5, next_attempt_at), lease_until = 0, "
                           "claim = '' WHERE event_id = $1 AND subscription_id = $2 "
                           "AND claim = $6",
                           Params()
                               .add(a.event_id)
                               .add(a.subscription_id)
                               .add(std::int64_t{a.attempt})
                               .add(sql::delivery_state_after(a, delivered))
                               .add(next)
                               .add(claim),
                           "record a webhook delivery"));
        if (r.affected_rows() == 0) return false;
        AUDIODROP_TRY(
            c.exec("INSERT INTO webhook_attempts (subscription_id, event_id, attempt, "
                   "event_type, status, error, attempted_at, next_attempt_at) "
                   "VALUES ($1, $2, $3, $4, $5, $6, $7, $8) "
                   "ON CONFLICT (subscription_id, event_id, attempt) DO UPDATE SET "
                   "status = excluded.status, error = excluded.error, "
                   "attempted_at = excluded.attempted_at, "
                   "next_attempt_at = excluded.next_attempt_at",
                   Params()
                       .add(a.subscription_id)
                       .add(a.event_id)
                       .add(std::int64_t{a.attempt})
                       .add(a.event_type)
                       .add(std::int64_t{a.status})
                       .add(a.error)
                       .add(to_unix_ms(a.attempted_at))
                       .add(next),
                   "record a webhook attempt"));
        AUDIODROP_TRY(tx.commit());
        return true;
    });
}

core::Result<std::vector<DeliveryAttempt>> PostgresMetadataStore::list_delivery_attempts(
    const std::string& subscription_id, std::size_t limit) {
    return with_connection([&](Connection& c) -> core::Result<std::vector<DeliveryAttempt>> {
        AUDIODROP_TRY_ASSIGN(
            auto r, c.exec("SELECT event_id, event_type, attempt, status, error, attempted_at, "
                           "next_attempt_at FROM webhook_attempts WHERE subscription_id = $1 "
                           "ORDER BY attempted_at DESC, attempt DESC LIMIT $2",
                           Params().add(subscription_id).add(to_sql_limit(limit)),
                           "list webhook attempts"));
        std::vector<DeliveryAttempt> out;
        for (int row = 0; row < r.rows(); ++row) {
            DeliveryAttempt a;
            a.event_id = r.text(row, 0);
            a.event_type = r.text(row, 1);
            a.subscription_id = subscription_id;
            AUDIODROP_TRY_ASSIGN(const std::int64_t attempt, r.int64(row, 2));
            a.attempt = static_cast<std::uint32_t>(attempt);
            AUDIODROP_TRY_ASSIGN(const std::int64_t status, r.int64(row, 3));
            a.status = static_cast<long>(status);
            a.error = r.text(row, 4);
            AUDIODROP_TRY_ASSIGN(const std::int64_t at, r.int64(row, 5));
            a.attempted_at = from_unix_ms(at);
            AUDIODROP_TRY_ASSIGN(a.next_attempt_at, optional_time(r, row, 6));
            out.push_back(std::move(a));
        }
        return out;
    });
}

core::Result<std::size_t> PostgresMetadataStore::forget_webhook_history(core::TimePoint before) {
    return with_connection([&](Connection& c) -> core::Result<std::size_t> {
        AUDIODROP_TRY_ASSIGN(auto tx, postgres::Transaction::begin(c));
        const Params cutoff = Params().add(to_unix_ms(before));
        AUDIODROP_TRY_ASSIGN(
            auto deliveries,
            c.exec("DELETE FROM webhook_deliveries WHERE state != 'pending' AND event_id IN "
                   "(SELECT id FROM webhook_events WHERE created_at < $1)",
                   cutoff, "forget finished deliveries"));
        AUDIODROP_TRY(
            c.exec("DELETE FROM webhook_events e WHERE created_at < $1 AND NOT EXISTS "
                   "(SELECT 1 FROM webhook_deliveries d WHERE d.event_id = e.id)",
                   cutoff, "forget finished events"));
        // Attempts go with their event.
        AUDIODROP_TRY(
            c.exec("DELETE FROM webhook_attempts a WHERE NOT EXISTS "
                   "(SELECT 1 FROM webhook_events e WHERE e.id = a.event_id)",
                   {}, "forget old attempts"));
        AUDIODROP_TRY(tx.commit());
        return static_cast<std::size_t>(deliveries.affected_rows());
    });
}

}  // namespace audiodrop::metadata
