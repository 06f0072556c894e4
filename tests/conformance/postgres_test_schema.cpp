#include "conformance/postgres_test_schema.hpp"

#include <chrono>
#include <cstdlib>
#include <optional>

#include "core/ids.hpp"

namespace audiodrop::test_support {

using metadata::postgres::Connection;

namespace {

constexpr const char* kUrlVariable = "AUDIODROP_TEST_DATABASE_URL";

std::string skip_reason_for_unset_url() {
    return std::string(kUrlVariable) +
           " is not set; run under tests/scaleout/postgres_cluster.py run -- ... "
           "(CTest: metadata_store_conformance_postgres)";
}

std::optional<std::string> test_database_url() {
    const char* url = std::getenv(kUrlVariable);
    if (url == nullptr || *url == '\0') return std::nullopt;
    return std::string(url);
}

core::Result<Connection> connect_to(const std::string& url) {
    AUDIODROP_TRY_ASSIGN(auto settings,
                         metadata::postgres::parse_settings(url, std::chrono::seconds(5),
                                                            std::chrono::milliseconds(30'000)));
    return Connection::open(settings);
}

}  // namespace

std::string PostgresTestSchema::skip_reason() {
    return test_database_url() ? "" : skip_reason_for_unset_url();
}

core::Result<std::unique_ptr<PostgresTestSchema>> PostgresTestSchema::create() {
    auto admin_url = test_database_url();
    if (!admin_url) {
        return core::make_error(core::ErrorKind::unavailable, "metadata_unavailable",
                                skip_reason_for_unset_url());
    }
    AUDIODROP_TRY_ASSIGN(auto admin, connect_to(*admin_url));
    // new_id's lowercase base32 is a valid unquoted identifier after the prefix.
    std::string name = core::new_id("t_");
    AUDIODROP_TRY(admin.exec("CREATE SCHEMA " + name, {}, "create a test schema"));
    return std::unique_ptr<PostgresTestSchema>(
        new PostgresTestSchema(*admin_url, std::move(name), std::move(admin)));
}

PostgresTestSchema::PostgresTestSchema(std::string admin_url, std::string name, Connection admin)
    : admin_url_(std::move(admin_url)), name_(std::move(name)), admin_(std::move(admin)) {}

PostgresTestSchema::~PostgresTestSchema() {
    // A test may have restarted the server under the admin connection.
    if (!admin_.is_usable()) {
        auto fresh = connect_to(admin_url_);
        if (fresh) admin_ = std::move(*fresh);
    }
    // Best effort: a leftover schema in a throwaway cluster harms nothing.
    admin_.exec_raw("DROP SCHEMA " + name_ + " CASCADE");
}

std::string PostgresTestSchema::url(const std::string& extra_parameters) const {
    const char separator = admin_url_.find('?') == std::string::npos ? '?' : '&';
    std::string url = admin_url_ + separator + "options=-csearch_path%3D" + name_;
    if (!extra_parameters.empty()) url += "&" + extra_parameters;
    return url;
}

core::Result<Connection> PostgresTestSchema::connect() const { return connect_to(url()); }

}  // namespace audiodrop::test_support
