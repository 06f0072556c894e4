#pragma once

// Versioned schema of the SQLite metadata store.
//
// The schema version lives in the database header (PRAGMA user_version). Migrations
// are a list in code, append-only: migration i (from 1) takes version i-1 to i and
// is never edited once released. migrate() applies every pending migration and the
// new version in one BEGIN IMMEDIATE transaction, so of several processes opening a
// new database at once exactly one migrates and the others find it done.

#include <sqlite3.h>

#include "core/error.hpp"

namespace audiodrop::metadata::sqlite {

// The version this build writes and understands.
int latest_schema_version();

// Brings the database to latest_schema_version(). A database written by a newer
// build is refused (unavailable, "metadata_schema_too_new") rather than misread.
core::Result<void> migrate(sqlite3* db);

}  // namespace audiodrop::metadata::sqlite
