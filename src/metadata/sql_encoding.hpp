#pragma once

// What the SQL metadata stores (SQLite, PostgreSQL) share about their tables: the
// uploads columns in the order both read them, and how unsigned values fit their
// signed 64-bit integer columns.

#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>

#include "core/error.hpp"
#include "metadata/records.hpp"

namespace audiodrop::metadata::sql {

// read_upload in each store decodes columns by these positions.
inline constexpr std::string_view kUploadColumns =
    "file_id, upload_id, client_id, user_id, filesize, filetype, chunk_size, part_count, "
    "object_key, storage_upload_id, state, created_at, expires_at, completed_at, file_md5, "
    "part_list_digest";

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

// The state column of upload `file_id`; a value no build writes means corruption.
inline core::Result<UploadState> stored_state(const std::string& file_id,
                                              const std::string& state) {
    if (auto parsed = upload_state_from_string(state)) return *parsed;
    return core::make_error(
        core::ErrorKind::internal, "metadata_corrupt",
        "Upload " + file_id + " has an unknown state '" + state + "' in the metadata database.");
}

}  // namespace audiodrop::metadata::sql
