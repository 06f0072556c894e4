// SqliteMetadataStore: webhook subscriptions, the event outbox and deliveries.

#include "metadata/sql_encoding.hpp"
#include "metadata/sqlite_store_access.hpp"

namespace audiodrop::metadata {
namespace {

using sql::from_unix_ms;
using sql::kWebhookColumns;
using sql::to_sql_limit;
using sql::to_unix_ms;
using sqlite::run;
using sqlite::Session;
using sqlite::Statement;

// Reads kWebhookColumns starting at column `first`.
WebhookSubscription read_webhook(const Statement& s, int first = 0) {
    WebhookSubscription w;
    w.id = s.text(first);
    w.client_id = s.text(first + 1);
    w.url = s.text(first + 2);
    w.events = sql::split_events(s.text(first + 3));
    w.description = s.text(first + 4);
    w.secret = s.text(first + 5);
    w.previous_secret = s.text(first + 6);
    w.previous_secret_expires_at = from_unix_ms(s.int64(first + 7));
    w.created_at = from_unix_ms(s.int64(first + 8));
    return w;
}

core::Result<std::vector<WebhookSubscription>> read_webhooks(Statement& stmt,
                                                             std::string_view doing) {
    std::vector<WebhookSubscription> out;
    for (;;) {
        AUDIODROP_TRY_ASSIGN(const bool row, stmt.step(doing));
        if (!row) return out;
        out.push_back(read_webhook(stmt));
    }
}

core::Result<std::optional<WebhookSubscription>> first_webhook(Statement& stmt,
                                                               std::string_view doing) {
    AUDIODROP_TRY_ASSIGN(auto found, read_webhooks(stmt, doing));
    if (found.empty()) return std::optional<WebhookSubscription>();
    return std::optional<WebhookSubscription>(std::move(found.front()));
}

}  // namespace

namespace sqlite {

core::Result<void> insert_event(Session& s, const OutboxEvent& event) {
    const auto created = to_unix_ms(event.created_at);
    AUDIODROP_TRY_ASSIGN(
        auto deliveries,
        s.statement("INSERT INTO webhook_deliveries (event_id, subscription_id, state, attempts, "
                    "next_attempt_at, lease_until, claim) "
                    "SELECT ?1, id, 'pending', 0, ?2, 0, '' FROM webhook_subscriptions "
                    "WHERE client_id = ?3 AND CASE WHEN ?4 = '' "
                    "THEN instr(',' || events || ',', ',' || ?5 || ',') > 0 ELSE id = ?4 END"));
    deliveries.bind(1, event.id)
        .bind(2, created)
        .bind(3, event.client_id)
        .bind(4, event.only_subscription.value_or(""))
        .bind(5, event.type);
    AUDIODROP_TRY(run(deliveries, "queue an event's deliveries"));
    if (sqlite3_changes(s.db()) == 0) return {};  // nobody takes it
    AUDIODROP_TRY_ASSIGN(auto insert,
                         s.statement("INSERT INTO webhook_events (id, client_id, type, data, "
                                     "object_key, created_at, request_id) "
                                     "VALUES (?, ?, ?, ?, ?, ?, ?)"));
    insert.bind(1, event.id)
        .bind(2, event.client_id)
        .bind(3, event.type)
        .bind(4, event.data)
        .bind(5, event.object_key)
        .bind(6, created)
        .bind(7, event.request_id);
    return run(insert, "store an event");
}

}  // namespace sqlite

core::Result<void> SqliteMetadataStore::create_webhook(const WebhookSubscription& w,
                                                       std::size_t max_per_partner) {
    return write([&](Session& s) -> core::Result<void> {
        AUDIODROP_TRY_ASSIGN(
            auto stmt,
            s.statement("INSERT INTO webhook_subscriptions (" + std::string(kWebhookColumns) +
                        ") SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9 WHERE (SELECT count(*) "
                        "FROM webhook_subscriptions WHERE client_id = ?2) < ?10"));
        stmt.bind(1, w.id)
            .bind(2, w.client_id)
            .bind(3, w.url)
            .bind(4, sql::join_events(w.events))
            .bind(5, w.description)
            .bind(6, w.secret)
            .bind(7, w.previous_secret)
            .bind(8, to_unix_ms(w.previous_secret_expires_at))
            .bind(9, to_unix_ms(w.created_at))
            .bind(10, to_sql_limit(max_per_partner));
        const int rc = stmt.step_raw();
        if (sqlite::is_uniqueness_violation(rc)) {
            return core::make_error(core::ErrorKind::conflict, "webhook_exists",
                                    "A webhook with id " + w.id + " exists already.");
        }
        if (rc != SQLITE_DONE) return sqlite::to_error(s.db(), rc, "create a webhook");
        if (sqlite3_changes(s.db()) == 0) return sql::too_many_webhooks(max_per_partner);
        return {};
    });
}

core::Result<std::vector<WebhookSubscription>> SqliteMetadataStore::list_webhooks(
    const std::string& client_id) {
    return read([&](Session& s) -> core::Result<std::vector<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(kWebhookColumns) +
                                                    " FROM webhook_subscriptions WHERE "
                                                    "client_id = ? ORDER BY created_at, id"));
        stmt.bind(1, client_id);
        return read_webhooks(stmt, "list webhooks");
    });
}

core::Result<std::optional<WebhookSubscription>> SqliteMetadataStore::find_webhook(
    const std::string& client_id, const std::string& id) {
    return read([&](Session& s) -> core::Result<std::optional<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("SELECT " + std::string(kWebhookColumns) +
                                                    " FROM webhook_subscriptions WHERE "
                                                    "client_id = ? AND id = ?"));
        stmt.bind(1, client_id).bind(2, id);
        return first_webhook(stmt, "read a webhook");
    });
}

core::Result<bool> SqliteMetadataStore::delete_webhook(const std::string& client_id,
                                                       const std::string& id) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<bool> {
            AUDIODROP_TRY_ASSIGN(auto stmt, s.statement("DELETE FROM webhook_subscriptions "
                                                        "WHERE client_id = ? AND id = ?"));
            stmt.bind(1, client_id).bind(2, id);
            AUDIODROP_TRY(run(stmt, "delete a webhook"));
            if (sqlite3_changes(s.db()) == 0) return false;
            for (const char* table : {"webhook_deliveries", "webhook_attempts"}) {
                AUDIODROP_TRY_ASSIGN(auto forget, s.statement(std::string("DELETE FROM ") + table +
                                                              " WHERE subscription_id = ?"));
                forget.bind(1, id);
                AUDIODROP_TRY(run(forget, "delete a webhook's deliveries"));
            }
            return true;
        });
    });
}

core::Result<std::optional<WebhookSubscription>> SqliteMetadataStore::rotate_webhook_secret(
    const std::string& client_id, const std::string& id, const std::string& secret,
    core::TimePoint previous_expires_at) {
    return write([&](Session& s) -> core::Result<std::optional<WebhookSubscription>> {
        AUDIODROP_TRY_ASSIGN(
            auto stmt, s.statement("UPDATE webhook_subscriptions SET previous_secret = secret, "
                                   "previous_secret_expires_at = ?1, secret = ?2 "
                                   "WHERE client_id = ?3 AND id = ?4 RETURNING " +
                                   std::string(kWebhookColumns)));
        stmt.bind(1, to_unix_ms(previous_expires_at))
            .bind(2, secret)
            .bind(3, client_id)
            .bind(4, id);
        return first_webhook(stmt, "rotate a webhook's secret");
    });
}

core::Result<bool> SqliteMetadataStore::add_event(const OutboxEvent& event) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<bool> {
            AUDIODROP_TRY(sqlite::insert_event(s, event));
            return sqlite3_changes(s.db()) > 0;
        });
    });
}

core::Result<std::vector<ClaimedDelivery>> SqliteMetadataStore::claim_deliveries(
    core::TimePoint now, std::chrono::milliseconds lease, std::size_t limit,
    const std::string& claim) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<std::vector<ClaimedDelivery>> {
            // One writer at a time: the update alone decides which deliveries are whose.
            AUDIODROP_TRY_ASSIGN(
                auto take,
                s.statement("UPDATE webhook_deliveries SET lease_until = ?2, claim = ?3 "
                            "WHERE (event_id, subscription_id) IN (SELECT event_id, "
                            "subscription_id FROM webhook_deliveries WHERE state = 'pending' "
                            "AND next_attempt_at <= ?1 AND lease_until <= ?1 "
                            "ORDER BY next_attempt_at LIMIT ?4)"));
            take.bind(1, to_unix_ms(now))
                .bind(2, to_unix_ms(now + lease))
                .bind(3, claim)
                .bind(4, to_sql_limit(limit));
            AUDIODROP_TRY(run(take, "claim webhook deliveries"));
            AUDIODROP_TRY_ASSIGN(
                auto claimed,
                s.statement("SELECT d.attempts, e.id, e.client_id, e.type, e.data, "
                            "e.object_key, e.created_at, e.request_id, " +
                            sql::qualified_webhook_columns("s.") +
                            " FROM webhook_deliveries d "
                            "JOIN webhook_events e ON e.id = d.event_id "
                            "JOIN webhook_subscriptions s ON s.id = d.subscription_id "
                            "WHERE d.claim = ? AND d.state = 'pending' "
                            "ORDER BY d.next_attempt_at"));
            claimed.bind(1, claim);
            std::vector<ClaimedDelivery> out;
            for (;;) {
                AUDIODROP_TRY_ASSIGN(const bool row, claimed.step("read claimed deliveries"));
                if (!row) return out;
                ClaimedDelivery d;
                d.attempt = static_cast<std::uint32_t>(claimed.int64(0) + 1);
                d.event.id = claimed.text(1);
                d.event.client_id = claimed.text(2);
                d.event.type = claimed.text(3);
                d.event.data = claimed.text(4);
                d.event.object_key = claimed.text(5);
                d.event.created_at = from_unix_ms(claimed.int64(6));
                d.event.request_id = claimed.text(7);
                d.subscription = read_webhook(claimed, 8);
                d.claim = claim;
                out.push_back(std::move(d));
            }
        });
    });
}

core::Result<bool> SqliteMetadataStore::record_delivery_attempt(const DeliveryAttempt& a,
                                                                const std::string& claim,
                                                                bool delivered) {
    std::optional<std::int64_t> next;
    if (a.next_attempt_at && !delivered) next = to_unix_ms(*a.next_attempt_at);
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<bool> {
            AUDIODROP_TRY_ASSIGN(
                auto update,
                s.statement("UPDATE webhook_deliveries SET attempts = ?3, state = ?4, "
                            "next_attempt_at = coalesce(?5, next_attempt_at), lease_until = 0, "
                            "claim = '' WHERE event_id = ?1 AND subscription_id = ?2 "
                            "AND claim = ?6"));
            update.bind(1, a.event_id)
                .bind(2, a.subscription_id)
                .bind(3, std::int64_t{a.attempt})
                .bind(4, sql::delivery_state_after(a, delivered))
                .bind(5, next)
                .bind(6, claim);
            AUDIODROP_TRY(run(update, "record a webhook delivery"));
            if (sqlite3_changes(s.db()) == 0) return false;
            AUDIODROP_TRY_ASSIGN(
                auto insert,
                s.statement("INSERT OR REPLACE INTO webhook_attempts (subscription_id, event_id, "
                            "attempt, event_type, status, error, attempted_at, next_attempt_at) "
                            "VALUES (?, ?, ?, ?, ?, ?, ?, ?)"));
            insert.bind(1, a.subscription_id)
                .bind(2, a.event_id)
                .bind(3, std::int64_t{a.attempt})
                .bind(4, a.event_type)
                .bind(5, std::int64_t{a.status})
                .bind(6, a.error)
                .bind(7, to_unix_ms(a.attempted_at))
                .bind(8, next);
            AUDIODROP_TRY(run(insert, "record a webhook attempt"));
            return true;
        });
    });
}

core::Result<std::vector<DeliveryAttempt>> SqliteMetadataStore::list_delivery_attempts(
    const std::string& subscription_id, std::size_t limit) {
    return read([&](Session& s) -> core::Result<std::vector<DeliveryAttempt>> {
        AUDIODROP_TRY_ASSIGN(
            auto stmt,
            s.statement("SELECT event_id, event_type, attempt, status, error, attempted_at, "
                        "next_attempt_at FROM webhook_attempts WHERE subscription_id = ? "
                        "ORDER BY attempted_at DESC, attempt DESC LIMIT ?"));
        stmt.bind(1, subscription_id).bind(2, to_sql_limit(limit));
        std::vector<DeliveryAttempt> out;
        for (;;) {
            AUDIODROP_TRY_ASSIGN(const bool row, stmt.step("list webhook attempts"));
            if (!row) return out;
            DeliveryAttempt a;
            a.event_id = stmt.text(0);
            a.event_type = stmt.text(1);
            a.subscription_id = subscription_id;
            a.attempt = static_cast<std::uint32_t>(stmt.int64(2));
            a.status = static_cast<long>(stmt.int64(3));
            a.error = stmt.text(4);
            a.attempted_at = from_unix_ms(stmt.int64(5));
            if (!stmt.is_null(6)) a.next_attempt_at = from_unix_ms(stmt.int64(6));
            out.push_back(std::move(a));
        }
    });
}

core::Result<std::size_t> SqliteMetadataStore::forget_webhook_history(core::TimePoint before) {
    return write([&](Session& s) {
        return sqlite::as_one_write(s, [&]() -> core::Result<std::size_t> {
            const std::int64_t cutoff = to_unix_ms(before);
            AUDIODROP_TRY_ASSIGN(
                auto deliveries,
                s.statement("DELETE FROM webhook_deliveries WHERE state != 'pending' AND "
                            "event_id IN (SELECT id FROM webhook_events WHERE created_at < ?)"));
            deliveries.bind(1, cutoff);
            AUDIODROP_TRY(run(deliveries, "forget finished deliveries"));
            const auto forgotten = static_cast<std::size_t>(sqlite3_changes(s.db()));
            AUDIODROP_TRY_ASSIGN(auto events,
                                 s.statement("DELETE FROM webhook_events WHERE created_at < ? "
                                             "AND id NOT IN (SELECT event_id FROM "
                                             "webhook_deliveries)"));
            events.bind(1, cutoff);
            AUDIODROP_TRY(run(events, "forget finished events"));
            // Attempts go with their event.
            AUDIODROP_TRY_ASSIGN(auto attempts,
                                 s.statement("DELETE FROM webhook_attempts WHERE event_id NOT IN "
                                             "(SELECT id FROM webhook_events)"));
            AUDIODROP_TRY(run(attempts, "forget old attempts"));
            return forgotten;
        });
    });
}

}  // namespace audiodrop::metadata
