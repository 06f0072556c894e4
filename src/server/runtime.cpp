#include "server/runtime.hpp"

#include <sys/resource.h>

#include <algorithm>
#include <boost/asio/executor_work_guard.hpp>
#include <csignal>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <sstream>
#include <thread>

#include "auth/auth_service.hpp"
#include "core/periodic_task.hpp"
#include "core/repeated_warning.hpp"
#include "events/event_dispatcher.hpp"
#include "events/webhook_service.hpp"
#include "http/api_handler.hpp"
#include "http/cors.hpp"
#include "http/demo_page.hpp"
#include "http/http_server.hpp"
#include "http/storage_handler.hpp"
#include "http/tls_credentials.hpp"
#include "server/backends.hpp"
#include "server/secrets.hpp"
#include "server/sweeper.hpp"
#include "server/worker_pools.hpp"
#include "storage/local_object_store.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::server {

auth::AuthOptions auth_options(const core::Config& c) {
    auth::AuthOptions o;
    o.region = c.region;
    o.region_hosts = c.region_hosts;
    o.partner_token_ttl = c.partner_token_ttl;
    o.refresh_token_ttl = c.refresh_token_ttl;
    o.user_token_default_ttl = c.user_token_default_ttl;
    o.user_token_max_ttl = c.user_token_max_ttl;
    o.token_requests_per_minute = c.token_requests_per_minute;
    o.token_requests_per_minute_per_address = c.token_requests_per_minute_per_address;
    o.partner_requests_per_minute = c.partner_requests_per_minute;
    // Replicas share one database: their rate limits must be counted there too.
    o.shared_rate_limits = !c.database_url.empty();
    return o;
}

namespace {

// Raises the soft file-descriptor limit to the hard one, the most the operator allows,
// and returns how many connections may be open: --max-connections, or what the limit
// leaves after a quarter of it (32 to 1024) kept for part files, the database and
// connections to S3, so accepting runs out before the rest of the server does.
std::size_t connection_cap(const core::Config& c) {
    constexpr rlim_t kFallback = 1024;
    rlimit limit{};
    rlim_t descriptors = kFallback;
    if (getrlimit(RLIMIT_NOFILE, &limit) == 0) {
        if (limit.rlim_cur != limit.rlim_max) {
            rlimit raised = limit;
            raised.rlim_cur = limit.rlim_max;
            if (setrlimit(RLIMIT_NOFILE, &raised) == 0) limit = raised;
        }
        descriptors = limit.rlim_cur == RLIM_INFINITY ? rlim_t{1} << 20 : limit.rlim_cur;
    }
    if (c.max_connections != 0) return c.max_connections;
    const rlim_t reserve = std::clamp<rlim_t>(descriptors / 4, 32, 1024);
    return static_cast<std::size_t>(
        std::max<rlim_t>(descriptors - std::min(reserve, descriptors), 1));
}

upload::UploadOptions upload_options(const core::Config& c) {
    upload::UploadOptions o;
    o.max_file_size = c.max_file_size;
    o.allowed_filetypes = c.allowed_filetypes;
    o.upload_ttl = c.upload_ttl;
    o.download_url_ttl = c.download_url_ttl;
    o.max_open_uploads_per_user = c.max_open_uploads_per_user;
    o.max_open_uploads_per_partner = c.max_open_uploads_per_partner;
    o.max_open_bytes_per_partner = c.max_open_bytes_per_partner;
    o.min_free_bytes = c.min_free_bytes;
    // finish_config checked the word.
    o.content_check = upload::content_check_from_string(c.content_check).value();
    return o;
}

webhook::DestinationPolicy destination_policy(const core::Config& c) {
    return webhook::DestinationPolicy{c.webhook_allow_http, c.webhook_allow_private};
}

events::DispatchOptions dispatch_options(const core::Config& c) {
    events::DispatchOptions o;
    o.retry_schedule = c.webhook_retry_schedule;
    o.send.timeout = c.webhook_timeout;
    o.send.policy = destination_policy(c);
    o.max_in_flight = c.webhook_threads;
    o.download_url_ttl = c.download_url_ttl;
    return o;
}

// Whole-file MD5 work of the local store: what the frontier hashed as parts arrived,
// and what completes had to hash themselves.
void watch_hashing(http::Metrics& metrics, const storage::LocalObjectStore* local) {
    if (local == nullptr) return;
    const std::string help =
        "Bytes read into whole-file MD5s: as parts arrived (background) "
        "or by complete-upload itself (complete).";
    metrics.add_counter("audiodrop_md5_bytes_total{phase=\"background\"}", help,
                        [local] { return local->hashing_stats().background_bytes; });
    metrics.add_counter("audiodrop_md5_bytes_total{phase=\"complete\"}", help,
                        [local] { return local->hashing_stats().complete_bytes; });
}

// A page may call the API with a token in Authorization and a JSON body, and read
// what tells it to wait or names the request in the log.
// A listener's open connections, and what it turned away before a request was routed
// (refused connections, failed TLS handshakes, unparseable requests): none of those
// reach the per-route request counters.
void watch_listener(http::Metrics& metrics, const std::string& listener,
                    const http::HttpServer& server) {
    const std::string labels = "{listener=\"" + listener + "\"";
    metrics.add_gauge("audiodrop_open_connections" + labels + "}",
                      "Connections open on each listener.",
                      [&server] { return server.open_connections(); });
    const std::string refused_help =
        "Connections refused at accept: too many from one address (429) or in all (503).";
    metrics.add_counter(
        "audiodrop_connections_refused_total" + labels + ",reason=\"address_limit\"}", refused_help,
        [&server] { return server.refusals().address_full; });
    metrics.add_counter(
        "audiodrop_connections_refused_total" + labels + ",reason=\"server_limit\"}", refused_help,
        [&server] { return server.refusals().server_full; });
    metrics.add_counter("audiodrop_tls_handshakes_failed_total" + labels + "}",
                        "TLS handshakes that failed or timed out.",
                        [&server] { return server.refusals().tls_handshakes_failed; });
    metrics.add_counter("audiodrop_requests_rejected_total" + labels + "}",
                        "Requests answered 4xx before routing: unparseable, badly framed or "
                        "with an oversized header.",
                        [&server] { return server.refusals().requests_rejected; });
}

http::CorsRules api_cors_rules() {
    return http::CorsRules{"GET, HEAD, POST, DELETE", "Authorization, Content-Type",
                           "Retry-After, X-Request-Id, WWW-Authenticate"};
}

// A page PUTs parts and reads their ETag for complete-upload, and GETs ranges of files;
// a SlowDown's Retry-After tells its client how long to back off.
http::CorsRules storage_cors_rules() {
    return http::CorsRules{"PUT, GET, HEAD", "",
                           "ETag, Content-Length, Content-Range, Accept-Ranges, Retry-After"};
}

// The origin the demo page PUTs parts to and plays files from: that of the URLs the
// store presigns (the storage endpoint's public URL, or the S3 bucket's host), asked of
// the store itself so that path- and host-style S3 addressing both come out right.
// Presigning is computed locally; nothing is fetched.
std::string presigned_origin(storage::ObjectStore& store) {
    const auto url = store.presign_get("demo", std::chrono::minutes(1));
    return url ? http::web_origin(*url) : std::string();
}

// Uploads that ended without a file, and what handing files on costs: probes of
// completed files, and webhook attempts.
void watch_hand_off(http::Metrics& metrics, const upload::UploadService& uploads,
                    const events::EventDispatcher& dispatcher) {
    metrics.add_counter("audiodrop_uploads_aborted_total",
                        "Uploads aborted (abort-upload, DELETE of an open upload, or discarded "
                        "by complete-upload).",
                        [&uploads] { return uploads.ended_uploads().aborted; });
    metrics.add_counter("audiodrop_uploads_expired_total", "Uploads the sweep expired.",
                        [&uploads] { return uploads.ended_uploads().expired; });
    metrics.add_counter("audiodrop_probes_total", "Completed files probed for audio facts.",
                        [&uploads] { return uploads.probe_stats().probes; });
    metrics.add_counter("audiodrop_probe_bytes_read_total",
                        "Bytes the audio probes read from the object store.",
                        [&uploads] { return uploads.probe_stats().bytes_read; });
    metrics.add_counter("audiodrop_probe_seconds_total", "Wall time spent probing.", [&uploads] {
        return static_cast<double>(uploads.probe_stats().microseconds) / 1e6;
    });
    metrics.add_counter("audiodrop_probes_not_declared_audio_total",
                        "Probes that found other than the audio the filetype declares.",
                        [&uploads] { return uploads.probe_stats().not_declared_audio; });
    const std::string help = "Webhook delivery attempts by outcome.";
    metrics.add_counter("audiodrop_webhook_attempts_total{outcome=\"delivered\"}", help,
                        [&dispatcher] { return dispatcher.stats().delivered; });
    metrics.add_counter("audiodrop_webhook_attempts_total{outcome=\"failed\"}", help,
                        [&dispatcher] { return dispatcher.stats().failed_attempts; });
    metrics.add_counter("audiodrop_webhook_deliveries_given_up_total",
                        "Webhook deliveries that failed after their last retry.",
                        [&dispatcher] { return dispatcher.stats().given_up; });
}

// SIGTERM and SIGINT (stop) and SIGHUP (reload) are taken synchronously by the main
// thread: blocked here before any thread starts, so every thread inherits the mask.
sigset_t block_signals() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    return set;
}

// A listener's TLS credentials, or null when it serves plain HTTP (finish_config saw
// both files named, or neither).
core::Result<std::unique_ptr<http::TlsCredentials>> tls_credentials(const std::string& cert,
                                                                    const std::string& key) {
    if (cert.empty()) return std::unique_ptr<http::TlsCredentials>();
    return http::TlsCredentials::load(http::TlsFiles{cert, key});
}

struct TlsListener {
    std::string_view name;
    http::TlsCredentials* credentials;  // null: plain HTTP
};

// SIGHUP: every TLS listener reads its files again; new handshakes use them, open
// connections go on. A listener whose files fail keeps what it had.
void reload_tls(std::initializer_list<TlsListener> listeners, const core::Logger& logger) {
    bool any = false;
    for (const auto& [name, credentials] : listeners) {
        if (credentials == nullptr) continue;
        any = true;
        if (auto reloaded = credentials->reload(); reloaded) {
            logger->info(
                {{"msg", "tls reloaded"}, {"listener", name}, {"cert", credentials->files().cert}});
        } else {
            logger->error({{"msg", "tls reload failed; the certificate in use stays"},
                           {"listener", name},
                           {"error", reloaded.error().message}});
        }
    }
    if (!any) logger->info({{"msg", "SIGHUP: no TLS listener, nothing to reload"}});
}

// "host:port", "[v6]:port": what --listen takes.
std::string address_text(const http::tcp::endpoint& endpoint) {
    std::ostringstream out;
    out << endpoint;
    return out.str();
}

int fail(const core::Logger& logger, const core::Error& e) {
    logger->error({{"msg", "cannot start"}, {"code", e.code}, {"error", e.message}});
    return 1;
}

}  // namespace

int serve(core::Config config, const core::Logger& logger) {
    const sigset_t signals = block_signals();
    core::SystemClock clock;
    if (auto r = load_or_create_secrets(config); !r) return fail(logger, r.error());
    // Before the stores: the local store advances whole-file MD5s on the hash pool.
    WorkerPools pools(config);
    auto metadata = open_metadata(config);
    if (!metadata) return fail(logger, metadata.error());
    const unsigned io_threads = network_threads(config);
    auto api_tls = tls_credentials(config.tls_cert, config.tls_key);
    if (!api_tls) return fail(logger, api_tls.error());
    auto storage_tls = tls_credentials(config.storage_tls_cert, config.storage_tls_key);
    if (!storage_tls) return fail(logger, storage_tls.error());
    boost::asio::io_context ioc(static_cast<int>(io_threads));
    auto work = boost::asio::make_work_guard(ioc);
    // Bound before the stores open: presigned URLs name the storage endpoint, and with
    // port 0 only the bound listener knows its port.
    auto api_listener = http::open_listener(ioc, config.listen);
    if (!api_listener) return fail(logger, api_listener.error());
    std::optional<http::tcp::acceptor> storage_listener;
    if (embedded_storage(config)) {
        auto bound = http::open_listener(ioc, config.storage_listen);
        if (!bound) return fail(logger, bound.error());
        storage_listener.emplace(std::move(*bound));
    }
    if (config.public_url.empty()) {
        config.public_url = std::string(*api_tls ? "https://" : "http://") +
                            address_text(api_listener->local_endpoint());
    }
    if (config.storage_public_url.empty() && storage_listener) {
        config.storage_public_url = std::string(*storage_tls ? "https://" : "http://") +
                                    address_text(storage_listener->local_endpoint());
    }
    auto objects = open_objects(config, clock, pools.hash);
    if (!objects) return fail(logger, objects.error());

    auth::AuthService auth(**metadata, clock, config.token_signing_key, auth_options(config));
    events::EventDispatcher dispatcher(**metadata, *objects->store, clock, pools.webhook, *logger,
                                       dispatch_options(config));
    auto uploading = upload_options(config);
    uploading.event_written = [&dispatcher] { dispatcher.wake(); };
    upload::UploadService uploads(**metadata, *objects->store, clock, std::move(uploading),
                                  &pools.storage);
    events::WebhookService webhooks(**metadata, clock,
                                    events::WebhookOptions{.policy = destination_policy(config)},
                                    [&dispatcher] { dispatcher.wake(); });
    http::Metrics metrics;
    metrics.watch_pools(
        {&pools.metadata, &pools.storage, &pools.hash, &pools.argon2, &pools.webhook});
    watch_hashing(metrics, objects->local);
    watch_hand_off(metrics, uploads, dispatcher);
    std::optional<http::DemoPage> demo;
    if (config.demo) {
        demo.emplace(http::embedded_demo_assets(),
                     http::DemoPageOptions{config.base_path, presigned_origin(*objects->store)});
    }
    http::ApiHandler api_handler(
        auth, uploads, webhooks, metrics,
        http::ApiPools{pools.metadata, pools.storage, pools.argon2},
        http::ApiOptions{config.base_path, config.max_json_body_bytes, demo ? &*demo : nullptr});

    const http::ConnectionLimits limits{config.max_header_bytes, config.idle_timeout,
                                        config.request_timeout, config.tls_handshake_timeout};
    // finish_config checked the list.
    http::ConnectionGate gate(connection_cap(config), config.max_connections_per_address,
                              http::TrustedProxies::parse(config.trusted_proxies).value());
    // finish_config checked the list. Without one, no CORS at all.
    const auto origins = http::CorsOrigins::parse(config.cors_allowed_origins).value();
    std::optional<http::CorsHandler> api_cors;
    if (!origins.empty()) api_cors.emplace(api_handler, origins, api_cors_rules());
    http::HttpServer api(ioc, "api",
                         api_cors ? static_cast<http::Handler&>(*api_cors) : api_handler, limits,
                         gate, logger, api_tls->get());
    api.start(std::move(*api_listener));
    // The embedded endpoint serves clients' bytes only when they are stored here.
    std::optional<http::StorageHandler> storage_handler;
    std::optional<http::CorsHandler> storage_cors;
    std::optional<http::HttpServer> storage_server;
    if (storage_listener) {
        storage_handler.emplace(
            *objects->embedded,
            s3::Credentials{config.storage_access_key, config.storage_secret_key},
            config.storage_region, clock, metrics, pools.storage);
        // The demo page, on the API's origin, PUTs parts here; the API's list is not widened.
        auto storage_origins = origins;
        if (config.demo) storage_origins.add(http::web_origin(config.public_url));
        if (!storage_origins.empty()) {
            storage_cors.emplace(*storage_handler, storage_origins, storage_cors_rules());
        }
        storage_server.emplace(
            ioc, "storage",
            storage_cors ? static_cast<http::Handler&>(*storage_cors) : *storage_handler, limits,
            gate, logger, storage_tls->get());
        storage_server->start(std::move(*storage_listener));
    }
    const auto open_connections = [&] {
        return api.open_connections() + (storage_server ? storage_server->open_connections() : 0);
    };
    watch_listener(metrics, "api", api);
    if (storage_server) watch_listener(metrics, "storage", *storage_server);

    std::vector<std::thread> threads;
    for (unsigned i = 0; i < io_threads; ++i) threads.emplace_back([&ioc] { ioc.run(); });
    Sweeper sweeper(uploads, webhooks, config.sweep_interval, logger);
    // What replicas share (request counts) reaches this one within about a second. A
    // store that stays unreachable is logged once a minute, not every second.
    core::RepeatedWarning sync_failures(std::chrono::minutes(1));
    core::PeriodicTask auth_sync(std::chrono::seconds(1), [&] {
        auto synced = auth.sync();
        if (synced) return;
        if (const auto count = sync_failures.occur()) {
            logger->warn({{"msg", "sharing request counts failed"},
                          {"code", synced.error().code},
                          {"error", synced.error().message},
                          {"count", count}});
        }
    });

    // The one line saying the server is up. `api` and `storage` are the bound addresses,
    // "host:port" or "[v6]:port" (the kernel's pick for port 0; tests read their ports
    // here); storage=none when the bytes go to a remote S3.
    logger->info(
        {{"msg", "ready"},
         {"api", address_text(api.local_endpoint())},
         {"storage", storage_server ? address_text(storage_server->local_endpoint()) : "none"},
         {"public_url", config.public_url + config.base_path},
         {"metadata", describe_metadata(config)},
         {"objects", describe_objects(config)},
         {"region", config.region}});
    if (demo) logger->info({{"msg", "demo page at " + config.public_url + "/demo/"}});

    int signal = 0;
    for (;;) {
        sigwait(&signals, &signal);
        if (signal != SIGHUP) break;
        reload_tls({{"api", api_tls->get()}, {"storage", storage_tls->get()}}, logger);
    }
    logger->info({{"msg", "draining"}, {"signal", signal}});
    api.stop();
    if (storage_server) storage_server->stop();
    sweeper.stop();
    auth_sync.stop();
    dispatcher.stop();
    const auto deadline = std::chrono::steady_clock::now() + config.shutdown_grace;
    while (open_connections() > 0 && std::chrono::steady_clock::now() < deadline) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    work.reset();
    ioc.stop();
    for (auto& t : threads) t.join();
    // Work still running finishes against live stores; what it hands back to the
    // stopped network threads is dropped with them.
    pools.stop();
    logger->info({{"msg", "stopped"}});
    return 0;
}

}  // namespace audiodrop::server
