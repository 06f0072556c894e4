#pragma once

// What the SQL metadata stores (SQLite, PostgreSQL) share about their tables: the
// uploads columns in the order both read them, and how unsigned values fit their
// signed 64-bit integer columns.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "metadata/records.hpp"
#include "metadata/webhook_records.hpp"

namespace audiodrop::metadata::sql {

// read_upload in each store decodes columns by these positions.
inline constexpr std::string_view kUploadColumns =
    "file_id, upload_id, client_id, user_id, filesize, filetype, chunk_size, part_count, "
    "object_key, storage_upload_id, state, created_at, expires_at, completed_at, file_md5, "
    "part_list_digest, audio, audio_problem";

// The partners columns, in the order both stores read them.
inline constexpr std::string_view kPartnerColumns =
    "client_id, name, region, secret_hash, created_at, token_generation, disabled_at";

// list_partners: kPartnerColumns, then the open uploads and the files of each partner.
inline constexpr std::string_view kListPartners =
    "SELECT p.client_id, p.name, p.region, p.secret_hash, p.created_at, p.token_generation, "
    "p.disabled_at, coalesce(o.open, 0), coalesce(f.files, 0) FROM partners p "
    "LEFT JOIN partner_open_uploads o ON o.client_id = p.client_id "
    "LEFT JOIN (SELECT client_id, count(*) AS files FROM uploads WHERE state = 'completed' "
    "GROUP BY client_id) f ON f.client_id = p.client_id "
    "ORDER BY p.created_at, p.client_id";

// What delete_partner runs once it may: abandon the partner's uploads, forget the rest, each
// with the client_id as its one parameter. Written "$1" for PostgreSQL; SQLite numbers
// a statement's only named parameter 1 too.
inline constexpr std::string_view kForgetPartner[] = {
    "UPDATE uploads SET state = 'aborted', expires_at = 0 WHERE client_id = $1",
    "DELETE FROM webhook_attempts WHERE subscription_id IN "
    "(SELECT id FROM webhook_subscriptions WHERE client_id = $1)",
    "DELETE FROM webhook_deliveries WHERE subscription_id IN "
    "(SELECT id FROM webhook_subscriptions WHERE client_id = $1)",
    "DELETE FROM webhook_events WHERE client_id = $1",
    "DELETE FROM webhook_subscriptions WHERE client_id = $1",
    "DELETE FROM refresh_tokens WHERE client_id = $1",
    "DELETE FROM partners WHERE client_id = $1",
};

// The webhook_subscriptions columns, in the order both stores read them.
inline constexpr std::string_view kWebhookColumns =
    "id, client_id, url, events, description, secret, previous_secret, "
    "previous_secret_expires_at, created_at";

// kWebhookColumns, each qualified with a table alias ("s." -> "s.id, s.client_id, ...").
std::string qualified_webhook_columns(std::string_view alias);

// A subscription's events as a column holds them: comma-separated, and the other way.
std::string join_events(const std::vector<std::string>& events);
std::vector<std::string> split_events(std::string_view stored);

// Webhook times are kept in milliseconds: retries can be due sooner than a second.
inline std::int64_t to_unix_ms(core::TimePoint t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline core::TimePoint from_unix_ms(std::int64_t ms) {
    return core::TimePoint{std::chrono::milliseconds{ms}};
}

// The state a delivery is left in by an attempt.
inline std::string_view delivery_state_after(const DeliveryAttempt& a, bool delivered) {
    if (delivered) return "delivered";
    return a.next_attempt_at ? "pending" : "failed";
}

// SQL integers are signed 64-bit; sizes keep their bit pattern and round-trip.
inline std::int64_t to_sql(std::uint64_t v) { return static_cast<std::int64_t>(v); }
inline std::uint64_t from_sql(std::int64_t v) { return static_cast<std::uint64_t>(v); }

// A LIMIT: anything past INT64_MAX means "no limit" anyway.
inline std::int64_t to_sql_limit(std::size_t limit) {
    constexpr auto kMax = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    return static_cast<std::int64_t>(limit < kMax ? limit : kMax);
}

inline core::Error partner_not_found(const std::string& client_id) {
    return core::make_error(core::ErrorKind::not_found, "partner_not_found",
                            "No partner has client_id " + client_id + ".");
}

inline core::Error partner_has_uploads(const std::string& client_id, const PartnerHoldings& h) {
    return core::make_error(core::ErrorKind::conflict, "partner_has_uploads",
                            "Partner " + client_id + " holds " + std::to_string(h.files) +
                                " files and " + std::to_string(h.open_uploads) + " open uploads.");
}

inline core::Error too_many_webhooks(std::size_t max_per_partner) {
    return core::make_error(core::ErrorKind::rate_limited, "too_many_webhooks",
                            "This partner has " + std::to_string(max_per_partner) +
                                " webhooks, the most allowed; delete one first.");
}

// The state column of upload `file_id`; a value no build writes means corruption.
inline core::Result<UploadState> stored_state(const std::string& file_id,
                                              const std::string& state) {
    if (auto parsed = upload_state_from_string(state)) return *parsed;
    return core::make_error(
        core::ErrorKind::internal, "metadata_corrupt",
        "Upload " + file_id + " has an unknown state '" + state + "' in the metadata database.");
}

}  // namespace audiodrop::metadata::sql
