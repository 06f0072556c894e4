#pragma once

// A fresh, empty PostgreSQL schema for one test, in the database that
// AUDIODROP_TEST_DATABASE_URL names (tests/scaleout/postgres_cluster.py run sets it).
// url() points a store at the schema through the search_path; the schema is dropped
// with everything in it when the object goes away, so tests never see each other's
// rows and need no database of their own.

#include <memory>
#include <string>

#include "core/error.hpp"
#include "metadata/postgres_connection.hpp"

namespace audiodrop::test_support {

class PostgresTestSchema {
  public:
    // Empty when the variable is set; otherwise why PostgreSQL tests skip.
    static std::string skip_reason();

    // Creates the schema; unavailable when the database cannot be reached.
    static core::Result<std::unique_ptr<PostgresTestSchema>> create();
    ~PostgresTestSchema();
    PostgresTestSchema(const PostgresTestSchema&) = delete;
    PostgresTestSchema& operator=(const PostgresTestSchema&) = delete;

    // The database URL with search_path set to this schema, plus `extra_parameters`
    // ("application_name=x") when given.
    std::string url(const std::string& extra_parameters = "") const;
    // A connection of its own with search_path set to this schema, for looking under
    // a store or getting in its way.
    core::Result<metadata::postgres::Connection> connect() const;

  private:
    PostgresTestSchema(std::string admin_url, std::string name,
                       metadata::postgres::Connection admin);

    std::string admin_url_;
    std::string name_;
    metadata::postgres::Connection admin_;  // creates and drops the schema
};

}  // namespace audiodrop::test_support
