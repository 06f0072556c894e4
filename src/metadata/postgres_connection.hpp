#pragma once

// Small RAII wrappers over libpq, private to the PostgreSQL metadata store.
// A Connection is used by one thread at a time: the pool hands each one to one
// caller at once.

#include <libpq-fe.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace audiodrop::metadata::postgres {

// How to reach the database, read once from the URL.
struct ConnectSettings {
    std::string url;       // as configured; may hold the password, so never printed
    std::string password;  // from the URL, scrubbed from every message libpq writes
    std::string target;    // "postgresql://user@host:port/dbname", safe to print
    std::chrono::seconds connect_timeout{5};
    std::chrono::milliseconds statement_timeout{10'000};
};

// Accepts postgres:// and postgresql:// URLs only. A malformed URL is invalid_input
// ("metadata_url_invalid"), described without echoing it since it may hold a password.
core::Result<ConnectSettings> parse_settings(const std::string& url,
                                             std::chrono::seconds connect_timeout,
                                             std::chrono::milliseconds statement_timeout);

// Statement parameters, bound to $1, $2, ... in the order added. Strings go as raw
// bytes of the stated length (libpq's binary format, which for text is the bytes
// themselves), so a NUL byte reaches the server, which refuses it, instead of
// silently ending the string; numbers go in text format.
class Params {
  public:
    Params& add(std::string_view text);
    Params& add(std::int64_t value);
    Params& add(std::optional<std::int64_t> value);  // nullopt binds NULL

    int size() const { return static_cast<int>(values_.size()); }
    // Pointers for PQexecParams, valid while these Params live unchanged.
    std::vector<const char*> values() const;
    std::vector<int> lengths() const;
    const std::vector<int>& formats() const { return formats_; }

  private:
    std::vector<std::optional<std::string>> values_;
    std::vector<int> formats_;  // 0 text, 1 binary
};

// The outcome of one statement, failed or not.
class QueryResult {
  public:
    explicit QueryResult(PGresult* result) : result_(result) {}

    bool ok() const;
    // The SQLSTATE of a failure ("23505"), empty when there is none.
    std::string sqlstate() const;
    // The server's message for a failure, on one line.
    std::string error_message() const;

    int rows() const { return PQntuples(result_.get()); }
    // Rows an INSERT, UPDATE or DELETE touched.
    std::uint64_t affected_rows() const;
    // "COMMIT", "ROLLBACK", "INSERT 0 1", ...
    std::string command_status() const;

    bool is_null(int row, int column) const { return PQgetisnull(result_.get(), row, column) != 0; }
    std::string text(int row, int column) const;
    // internal ("metadata_corrupt") when the value is not a 64-bit integer.
    core::Result<std::int64_t> int64(int row, int column) const;

  private:
    struct Clear {
        void operator()(PGresult* r) const { PQclear(r); }
    };
    std::unique_ptr<PGresult, Clear> result_;
};

// One session with the server, configured with the settings' statement timeout.
class Connection {
  public:
    // Connects within the connect timeout; unavailable ("metadata_unavailable") when
    // the database cannot be reached or refuses the credentials.
    static core::Result<Connection> open(const ConnectSettings& settings);

    // Runs one statement with parameters; the result says whether it failed.
    QueryResult exec_raw(std::string_view sql, const Params& params = {});
    // Like exec_raw, with a failure turned into the store's error vocabulary.
    // `doing` completes "failed to ...", e.g. "read an upload".
    core::Result<QueryResult> exec(std::string_view sql, const Params& params,
                                   std::string_view doing);
    // Runs constant SQL without parameters, which may hold several statements (DDL).
    core::Result<void> exec_script(const std::string& sql, std::string_view doing);

    // Maps a failed statement: a lost connection is unavailable, text that is not
    // UTF-8 or holds a NUL byte invalid_input ("metadata_invalid_text"), a full disk
    // storage_full ("metadata_storage_full"), anything else unavailable.
    core::Error to_error(const QueryResult& failed, std::string_view doing) const;

    // True while the connection can take a statement: the server has not closed it
    // (checked without a round trip) and no transaction was left open.
    bool is_usable();
    // True when the server has closed the connection.
    bool is_broken() const { return PQstatus(conn_.get()) != CONNECTION_OK; }

    // Whether a statement failed with a serialization failure or deadlock since the
    // last clear: the whole operation may be retried then.
    bool saw_transient_failure() const { return saw_transient_failure_; }
    void clear_transient_failure() { saw_transient_failure_ = false; }

  private:
    struct Finish {
        void operator()(PGconn* c) const { PQfinish(c); }
    };
    Connection(PGconn* conn, const ConnectSettings& settings);

    std::unique_ptr<PGconn, Finish> conn_;
    std::string password_;  // scrubbed from messages
    std::string target_;    // printed in messages
    bool saw_transient_failure_ = false;
};

// BEGIN ... COMMIT; rolls back when destroyed uncommitted. A failed rollback leaves
// the connection outside the idle state, so the pool replaces it.
class Transaction {
  public:
    static core::Result<Transaction> begin(Connection& c);
    Transaction(Transaction&& other) noexcept : conn_(other.conn_) { other.conn_ = nullptr; }
    Transaction& operator=(Transaction&&) = delete;
    ~Transaction();

    core::Result<void> commit();

  private:
    explicit Transaction(Connection& c) : conn_(&c) {}
    Connection* conn_;  // null once committed or moved from
};

}  // namespace audiodrop::metadata::postgres
