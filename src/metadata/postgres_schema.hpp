#pragma once

// Versioned schema of the PostgreSQL metadata store.
//
// Applied versions are rows of schema_migrations(version, applied_at), in the first
// schema of the connection's search_path. Migrations are a list in code, append-only:
// migration i (from 1) takes version i-1 to i and is never edited once released. Each
// is applied in its own transaction under a database-wide advisory lock, so of several
// replicas starting at once exactly one applies it and the others find it done.

#include "core/error.hpp"
#include "metadata/postgres_connection.hpp"

namespace audiodrop::metadata::postgres {

// The version this build writes and understands.
int latest_schema_version();

// Brings the database to latest_schema_version(). A database written by a newer
// build is refused (unavailable, "metadata_schema_too_new") rather than misread.
core::Result<void> migrate(Connection& c);

}  // namespace audiodrop::metadata::postgres
