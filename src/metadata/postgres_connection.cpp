#include "metadata/postgres_connection.hpp"

#include <algorithm>
#include <charconv>

namespace audiodrop::metadata::postgres {
namespace {

// libpq's messages span lines ("...failed: Connection refused\n\tIs the server
// running..."); one line reads better in a log or a JSON error.
std::string one_line(std::string_view text) {
    std::string out;
    bool pending_space = false;
    for (char ch : text) {
        if (ch == '\n' || ch == '\r' || ch == '\t' || ch == ' ') {
            pending_space = !out.empty();
            continue;
        }
        if (pending_space) out.push_back(' ');
        pending_space = false;
        out.push_back(ch);
    }
    return out;
}

// libpq's connection messages name the host and user, not the password; scrubbing
// keeps that true whatever libpq version is installed.
std::string redact(std::string text, std::string_view secret) {
    if (secret.empty()) return text;
    for (auto at = text.find(secret); at != std::string::npos; at = text.find(secret, at)) {
        text.replace(at, secret.size(), "***");
        at += 3;
    }
    return text;
}

std::string option_value(const PQconninfoOption* options, std::string_view keyword) {
    for (const auto* o = options; o->keyword != nullptr; ++o) {
        if (keyword == o->keyword) return o->val != nullptr ? o->val : "";
    }
    return {};
}

bool is_connection_lost(const std::string& sqlstate) {
    // Class 08 is connection exceptions; 57P0x is the server shutting down or
    // starting up (admin_shutdown, crash_shutdown, cannot_connect_now).
    return sqlstate.starts_with("08") || sqlstate.starts_with("57P0");
}

bool is_transient(const std::string& sqlstate) {
    return sqlstate == "40001" || sqlstate == "40P01";  // serialization failure, deadlock
}

void ignore_notice(void*, const char*) {}

}  // namespace

core::Result<ConnectSettings> parse_settings(const std::string& url,
                                             std::chrono::seconds connect_timeout,
                                             std::chrono::milliseconds statement_timeout) {
    auto invalid = [](std::string why) {
        return core::make_error(core::ErrorKind::invalid_input, "metadata_url_invalid",
                                "The metadata database URL " + std::move(why) +
                                    "; expected postgresql://USER:PASSWORD@HOST:PORT/DATABASE.");
    };
    if (!url.starts_with("postgresql://") && !url.starts_with("postgres://")) {
        return invalid("does not start with postgresql:// or postgres://");
    }
    char* parse_error = nullptr;
    PQconninfoOption* options = PQconninfoParse(url.c_str(), &parse_error);
    if (options == nullptr) {
        PQfreemem(parse_error);  // it may quote the URL, password included
        return invalid("cannot be parsed");
    }
    ConnectSettings s;
    s.url = url;
    s.password = option_value(options, "password");
    const std::string user = option_value(options, "user");
    const std::string host = option_value(options, "host");
    const std::string port = option_value(options, "port");
    s.target = "postgresql://" + (user.empty() ? "" : user + "@") + host +
               (port.empty() ? "" : ":" + port) + "/" + option_value(options, "dbname");
    PQconninfoFree(options);
    // libpq counts connect_timeout in whole seconds and reads 0 as "wait forever".
    s.connect_timeout = std::max(connect_timeout, std::chrono::seconds(1));
    s.statement_timeout = statement_timeout;
    return s;
}

Params& Params::add(std::string_view text) {
    values_.emplace_back(std::string(text));
    formats_.push_back(1);
    return *this;
}

Params& Params::add(std::int64_t value) {
    values_.emplace_back(std::to_string(value));
    formats_.push_back(0);
    return *this;
}

Params& Params::add(std::optional<std::int64_t> value) {
    if (value) return add(*value);
    values_.emplace_back(std::nullopt);
    formats_.push_back(0);
    return *this;
}

std::vector<const char*> Params::values() const {
    std::vector<const char*> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v ? v->c_str() : nullptr);
    return out;
}

std::vector<int> Params::lengths() const {
    std::vector<int> out;
    out.reserve(values_.size());
    for (const auto& v : values_) out.push_back(v ? static_cast<int>(v->size()) : 0);
    return out;
}

bool QueryResult::ok() const {
    const auto status = PQresultStatus(result_.get());
    return status == PGRES_COMMAND_OK || status == PGRES_TUPLES_OK;
}

std::string QueryResult::sqlstate() const {
    const char* state = PQresultErrorField(result_.get(), PG_DIAG_SQLSTATE);
    return state != nullptr ? state : "";
}

std::string QueryResult::error_message() const {
    return one_line(PQresultErrorMessage(result_.get()));
}

std::uint64_t QueryResult::affected_rows() const {
    const std::string_view count = PQcmdTuples(result_.get());
    std::uint64_t n = 0;
    std::from_chars(count.data(), count.data() + count.size(), n);
    return n;
}

std::string QueryResult::command_status() const {
    const char* status = PQcmdStatus(result_.get());
    return status != nullptr ? status : "";
}

std::string QueryResult::text(int row, int column) const {
    return std::string(PQgetvalue(result_.get(), row, column),
                       static_cast<std::size_t>(PQgetlength(result_.get(), row, column)));
}

core::Result<std::int64_t> QueryResult::int64(int row, int column) const {
    const std::string value = text(row, column);
    std::int64_t n = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), n);
    if (ec != std::errc() || end != value.data() + value.size()) {
        return core::make_error(core::ErrorKind::internal, "metadata_corrupt",
                                "The metadata database holds '" + value + "' in column " +
                                    PQfname(result_.get(), column) + " where an integer belongs.");
    }
    return n;
}

Connection::Connection(PGconn* conn, const ConnectSettings& settings)
    : conn_(conn), password_(settings.password), target_(settings.target) {}

core::Result<Connection> Connection::open(const ConnectSettings& settings) {
    const std::string connect_timeout = std::to_string(settings.connect_timeout.count());
    // Later entries override what the URL (expanded from dbname) says; the URL may
    // name its own application_name. Keepalives notice a vanished server within about
    // a minute instead of the kernel's two hours.
    const char* keywords[] = {"application_name", "dbname",
                              "connect_timeout",  "client_encoding",
                              "keepalives_idle",  "keepalives_interval",
                              "keepalives_count", nullptr};
    const char* values[] = {
        "audiodrop", settings.url.c_str(), connect_timeout.c_str(), "UTF8", "30", "10", "3",
        nullptr};
    Connection c(PQconnectdbParams(keywords, values, 1), settings);
    if (c.conn_ == nullptr) {
        return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                "The metadata store (PostgreSQL) could not allocate a connection.");
    }
    if (PQstatus(c.conn_.get()) != CONNECTION_OK) {
        return core::make_error(
            core::ErrorKind::unavailable, "metadata_unavailable",
            "The metadata store (PostgreSQL) cannot connect to " + settings.target + ": " +
                redact(one_line(PQerrorMessage(c.conn_.get())), settings.password) + ".");
    }
    // Server notices ("relation exists, skipping") are not errors and have no reader.
    PQsetNoticeProcessor(c.conn_.get(), ignore_notice, nullptr);
    auto configured = c.exec("SELECT set_config('statement_timeout', $1, false)",
                             Params().add(std::int64_t{settings.statement_timeout.count()}),
                             "configure the session");
    if (!configured) return configured.error();
    return c;
}

QueryResult Connection::exec_raw(std::string_view sql, const Params& params) {
    const std::vector<const char*> values = params.values();
    const std::vector<int> lengths = params.lengths();
    // libpq wants a NUL-terminated statement.
    const std::string statement(sql);
    QueryResult result(PQexecParams(conn_.get(), statement.c_str(), params.size(), nullptr,
                                    values.data(), lengths.data(), params.formats().data(), 0));
    if (!result.ok() && is_transient(result.sqlstate())) saw_transient_failure_ = true;
    return result;
}

core::Result<QueryResult> Connection::exec(std::string_view sql, const Params& params,
                                           std::string_view doing) {
    QueryResult result = exec_raw(sql, params);
    if (!result.ok()) return to_error(result, doing);
    return result;
}

core::Result<void> Connection::exec_script(const std::string& sql, std::string_view doing) {
    QueryResult result(PQexec(conn_.get(), sql.c_str()));
    if (!result.ok()) return to_error(result, doing);
    return {};
}

core::Error Connection::to_error(const QueryResult& failed, std::string_view doing) const {
    const std::string sqlstate = failed.sqlstate();
    std::string detail = failed.error_message();
    if (detail.empty()) detail = one_line(PQerrorMessage(conn_.get()));
    detail = redact(std::move(detail), password_);
    if (is_broken() || is_connection_lost(sqlstate)) {
        return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                "The metadata store (PostgreSQL) lost its connection to " +
                                    target_ + " while trying to " + std::string(doing) + ": " +
                                    detail + ".");
    }
    std::string message = "The metadata store (PostgreSQL) failed to " + std::string(doing) + ": " +
                          detail + (sqlstate.empty() ? "" : " (SQLSTATE " + sqlstate + ")") + ".";
    if (sqlstate == "22021") {  // character_not_in_repertoire: a NUL or invalid UTF-8
        return core::make_error(core::ErrorKind::invalid_input, "metadata_invalid_text",
                                "The metadata store (PostgreSQL) cannot " + std::string(doing) +
                                    ": text must be UTF-8 without NUL bytes (" + detail + ").");
    }
    if (sqlstate == "53100") {  // disk_full
        return core::make_error(core::ErrorKind::storage_full, "metadata_storage_full",
                                std::move(message));
    }
    return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                            std::move(message));
}

bool Connection::is_usable() {
    // PQconsumeInput reads what has arrived, without blocking. A server that restarted
    // or ended the session sent a last message and closed the socket: the first read
    // takes the message, the second sees the close and marks the connection broken.
    for (int read = 0; read < 2; ++read) {
        if (PQconsumeInput(conn_.get()) == 0 || is_broken()) return false;
    }
    return PQtransactionStatus(conn_.get()) == PQTRANS_IDLE;
}

core::Result<Transaction> Transaction::begin(Connection& c) {
    auto begun = c.exec("BEGIN", {}, "begin a transaction");
    if (!begun) return begun.error();
    return Transaction(c);
}

Transaction::~Transaction() {
    if (conn_ != nullptr) conn_->exec_raw("ROLLBACK");
}

core::Result<void> Transaction::commit() {
    auto done = conn_->exec("COMMIT", {}, "commit a transaction");
    if (!done) return done.error();
    conn_ = nullptr;
    // COMMIT of a transaction that had failed answers ROLLBACK instead of an error.
    if (done->command_status() != "COMMIT") {
        return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                "The metadata store (PostgreSQL) could not commit a transaction: "
                                "the server rolled it back.");
    }
    return {};
}

}  // namespace audiodrop::metadata::postgres
