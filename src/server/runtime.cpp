#include "server/embedded_runtime.hpp"

#include <boost/asio/executor_work_guard.hpp>
#include <csignal>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <thread>

#include "auth/auth_service.hpp"
#include "http/api_handler.hpp"
#include "http/http_server.hpp"
#include "http/storage_handler.hpp"
#include "metadata/sqlite_metadata_store.hpp"
#include "server/secrets.hpp"
#include "server/sweeper.hpp"
#include "storage/local_object_store.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::server {
namespace {

namespace fs = std::filesystem;

core::Result<std::unique_ptr<metadata::SqliteMetadataStore>> open_metadata(
    const core::Config& config) {
    std::error_code ec;
    fs::create_directories(config.data_dir, ec);
    if (ec) {
        return core::make_error(core::ErrorKind::unavailable, "data_dir_unavailable",
                                "cannot create data dir " + config.data_dir + ": " + ec.message());
    }
    return metadata::SqliteMetadataStore::open(
        (fs::path(config.data_dir) / "metadata.sqlite3").string());
}

auth::AuthOptions auth_options(const core::Config& c) {
    auth::AuthOptions o;
    o.region = c.region;
    o.region_hosts = c.region_hosts;
    o.partner_token_ttl = c.partner_token_ttl;
    o.refresh_token_ttl = c.refresh_token_ttl;
    o.user_token_default_ttl = c.user_token_default_ttl;
    o.user_token_max_ttl = c.user_token_max_ttl;
    o.token_requests_per_minute = c.token_requests_per_minute;
    return o;
}

upload::UploadOptions upload_options(const core::Config& c) {
    return upload::UploadOptions{c.max_file_size, c.allowed_filetypes, c.upload_ttl,
                                 c.download_url_ttl, c.max_open_uploads_per_user};
}

unsigned io_threads(const core::Config& c) {
    if (c.threads > 0) return c.threads;
    // Handlers block on fsync and SQLite; more threads than cores keep the others moving.
    return std::max(4u, 2 * std::max(1u, std::thread::hardware_concurrency()));
}

// SIGTERM and SIGINT are taken synchronously by the main thread: blocked here before
// any thread starts, so every thread inherits the mask.
sigset_t block_stop_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

int fail(const core::Logger& logger, const core::Error& e) {
    logger->error({{"msg", "cannot start"}, {"code", e.code}, {"error", e.message}});
    return 1;
}

}  // namespace

int serve(core::Config config, const core::Logger& logger) {
    const sigset_t stop_signals = block_stop_signals();
    core::SystemClock clock;
    if (auto r = load_or_create_secrets(config); !r) return fail(logger, r.error());
    auto metadata = open_metadata(config);
    if (!metadata) return fail(logger, metadata.error());
    storage::LocalObjectStore::Options store_options{
        fs::path(config.data_dir) / "objects", config.bucket,
        s3::Credentials{config.storage_access_key, config.storage_secret_key},
        config.storage_region, config.storage_public_url};
    auto objects = storage::LocalObjectStore::open(store_options, clock);
    if (!objects) return fail(logger, objects.error());

    auth::AuthService auth(**metadata, clock, config.token_signing_key, auth_options(config));
    upload::UploadService uploads(**metadata, **objects, clock, upload_options(config));
    http::Metrics metrics;
    http::ApiHandler api_handler(auth, uploads, metrics,
                                 http::ApiOptions{config.base_path, config.max_json_body_bytes});
    http::StorageHandler storage_handler(
        **objects, s3::Credentials{config.storage_access_key, config.storage_secret_key},
        config.storage_region, clock, metrics);

    const http::ConnectionLimits limits{config.max_header_bytes, config.idle_timeout,
                                        config.request_timeout};
    boost::asio::io_context ioc(static_cast<int>(io_threads(config)));
    auto work = boost::asio::make_work_guard(ioc);
    http::HttpServer api(ioc, "api", api_handler, limits, logger);
    http::HttpServer storage_server(ioc, "storage", storage_handler, limits, logger);
    if (auto r = api.start(config.listen); !r) return fail(logger, r.error());
    if (auto r = storage_server.start(config.storage_listen); !r) return fail(logger, r.error());

    std::vector<std::thread> threads;
    for (unsigned i = 0; i < io_threads(config); ++i) threads.emplace_back([&ioc] { ioc.run(); });
    Sweeper sweeper(uploads, config.sweep_interval, logger);

    logger->info({{"msg", "ready"},
                  {"api", config.listen},
                  {"storage", config.storage_listen},
                  {"public_url", config.public_url + config.base_path},
                  {"storage_public_url", config.storage_public_url},
                  {"data_dir", config.data_dir},
                  {"region", config.region}});

    int signal = 0;
    sigwait(&stop_signals, &signal);
    logger->info({{"msg", "draining"}, {"signal", signal}});
    api.stop();
    storage_server.stop();
    sweeper.stop();
    const auto deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
    while ((api.open_connections() > 0 || storage_server.open_connections() > 0) &&
           std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    logger->info({{"msg", "stopped"}});
    return 0;
}

int create_partner(core::Config config, const std::string& name, const core::Logger& logger) {
    core::SystemClock clock;
    if (auto r = load_or_create_secrets(config); !r) return fail(logger, r.error());
    auto metadata = open_metadata(config);
    if (!metadata) return fail(logger, metadata.error());
    auth::AuthService auth(**metadata, clock, config.token_signing_key, auth_options(config));
    auto partner = auth.create_partner(name);
    if (!partner) return fail(logger, partner.error());
    std::cout << nlohmann::json{{"client_id", partner->client_id},
                                {"secret_key", partner->secret_key}}
                     .dump()
              << std::endl;
    return 0;
}

}  // namespace audiodrop::server
