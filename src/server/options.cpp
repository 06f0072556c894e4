#include "server/options.hpp"

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "http/cors.hpp"
#include "http/trusted_proxies.hpp"
#include "server/secrets.hpp"

namespace audiodrop::server {
namespace {

std::string env_name(std::string_view flag) {
    std::string out = "AUDIODROP_";
    for (char c : flag) {
        out.push_back(c == '-' ? '_'
                               : static_cast<char>(std::toupper(static_cast<unsigned char>(c))));
    }
    return out;
}

template <class T>
CLI::Option* option(CLI::App& app, const std::string& flag, T& target, const std::string& help) {
    return app.add_option("--" + flag, target, help)
        ->envname(env_name(flag))
        ->capture_default_str();
}

// Ten years: past any lifetime or timeout that makes sense, and well short of what the
// server's clock arithmetic can hold (now + ttl in 64-bit nanoseconds overflows after
// 2262) and of the latest exp the token verifier accepts (2100).
constexpr std::int64_t kMaxSeconds = 10LL * 365 * 24 * 3600;

void seconds(CLI::App& app, const std::string& flag, std::int64_t& raw, std::chrono::seconds def,
             const std::string& help) {
    raw = def.count();
    option(app, flag, raw, help + " (seconds)")->check(CLI::Range(std::int64_t{1}, kMaxSeconds));
}

// "30s,5m,2h,1d,500ms": waits of a retry schedule, each at most a week.
std::optional<std::vector<std::chrono::milliseconds>> parse_schedule(std::string_view text) {
    std::vector<std::chrono::milliseconds> out;
    constexpr std::int64_t kMaxMs = 7LL * 24 * 3600 * 1000;
    while (!text.empty()) {
        const auto comma = text.find(',');
        const auto item = text.substr(0, comma);
        text = comma == std::string_view::npos ? std::string_view() : text.substr(comma + 1);
        std::size_t digits = 0;
        while (digits < item.size() && digits < 12 &&
               std::isdigit(static_cast<unsigned char>(item[digits]))) {
            ++digits;
        }
        if (digits == 0) return std::nullopt;
        const std::int64_t n = std::stoll(std::string(item.substr(0, digits)));
        const auto unit = item.substr(digits);
        const std::int64_t ms = unit == "ms"  ? n
                                : unit == "s" ? n * 1000
                                : unit == "m" ? n * 60'000
                                : unit == "h" ? n * 3'600'000
                                : unit == "d" ? n * 86'400'000
                                              : -1;
        if (ms < 0 || ms > kMaxMs) return std::nullopt;
        out.emplace_back(ms);
    }
    if (out.empty() || out.size() > 20) return std::nullopt;
    return out;
}

bool is_http_url(std::string_view url) {
    return url.starts_with("http://") || url.starts_with("https://");
}

// CLI11 reads the --config file before the environment and takes a variable only for an
// option still unset, so the file would beat the environment. Dropping from the file
// every value whose variable is set restores the order: flag, environment, file.
class EnvironmentBeatsFileConfig : public CLI::ConfigTOML {
  public:
    explicit EnvironmentBeatsFileConfig(const CLI::App& app) : app_(app) {}

    std::vector<CLI::ConfigItem> from_config(std::istream& input) const override {
        auto items = CLI::ConfigTOML::from_config(input);
        std::erase_if(items, [this](const CLI::ConfigItem& item) {
            const CLI::Option* opt =
                item.parents.empty() ? app_.get_option_no_throw("--" + item.name) : nullptr;
            if (opt == nullptr || opt->get_envname().empty()) return false;
            const char* value = std::getenv(opt->get_envname().c_str());
            return value != nullptr && *value != '\0';  // CLI11 skips empty variables too
        });
        return items;
    }

  private:
    const CLI::App& app_;
};

std::optional<std::string> check_scale_out(core::Config& c) {
    if (!c.database_url.empty() && !c.database_url.starts_with("postgres://") &&
        !c.database_url.starts_with("postgresql://")) {
        return "--database-url must be a postgres:// or postgresql:// URL";
    }
    if (!c.database_url.empty() && c.token_signing_key.empty()) {
        // Replicas must accept each other's tokens; a key generated into one replica's
        // data dir would make every other replica refuse them.
        return "--database-url needs --token-signing-key: the same secret of at least 32 "
               "characters on every replica";
    }
    if (c.s3_endpoint.empty()) {
        if (!c.s3_bucket.empty() || !c.s3_access_key.empty() || !c.s3_secret_key.empty()) {
            return "--s3-bucket and the S3 keys need --s3-endpoint";
        }
        return std::nullopt;
    }
    if (!is_http_url(c.s3_endpoint)) {
        return "--s3-endpoint must start with http:// or https://";
    }
    while (c.s3_endpoint.ends_with('/')) c.s3_endpoint.pop_back();
    if (c.s3_bucket.empty()) return "--s3-endpoint needs --s3-bucket";
    if (c.s3_access_key.empty() || c.s3_secret_key.empty()) {
        return "--s3-endpoint needs --s3-access-key and --s3-secret-key";
    }
    return std::nullopt;
}

// The files themselves are read when serving starts (http::make_tls_server_context).
std::optional<std::string> check_tls(const core::Config& c) {
    if (c.tls_cert.empty() != c.tls_key.empty()) {
        return "give both --tls-cert and --tls-key, or neither";
    }
    if (c.storage_tls_cert.empty() != c.storage_tls_key.empty()) {
        return "give both --storage-tls-cert and --storage-tls-key, or neither";
    }
    if (!c.storage_tls_cert.empty() && !c.s3_endpoint.empty()) {
        return "--storage-tls-cert is for the embedded storage endpoint, which does not run "
               "with --s3-endpoint";
    }
    return std::nullopt;
}

}  // namespace

void add_config_options(CLI::App& app, core::Config& c, OptionValues& v) {
    app.config_formatter(std::make_shared<EnvironmentBeatsFileConfig>(app));
    app.set_config("--config", "", "TOML/INI file with options (keys are the long flag names)")
        ->envname("AUDIODROP_CONFIG");
    option(app, "listen", c.listen, "API listener, host:port");
    option(app, "storage-listen", c.storage_listen,
           "Embedded storage endpoint listener, host:port");
    option(app, "public-url", c.public_url,
           "URL clients reach the API at (default http://<bound listen address>, https:// "
           "with --tls-cert)");
    option(app, "storage-public-url", c.storage_public_url,
           "URL in presigned links (default http://<bound storage-listen address>, https:// "
           "with --storage-tls-cert)");
    option(app, "tls-cert", c.tls_cert,
           "PEM certificate chain (server certificate first): the API listener serves HTTPS "
           "(TLS 1.2+); SIGHUP reads it and --tls-key again");
    option(app, "tls-key", c.tls_key, "PEM private key of --tls-cert, unencrypted");
    option(app, "storage-tls-cert", c.storage_tls_cert,
           "PEM certificate chain for the storage listener (HTTPS presigned URLs); SIGHUP "
           "reads it and --storage-tls-key again");
    option(app, "storage-tls-key", c.storage_tls_key,
           "PEM private key of --storage-tls-cert, unencrypted");
    seconds(app, "tls-handshake-timeout", v.tls_handshake_timeout, c.tls_handshake_timeout,
            "Cut a TLS connection that has not finished its handshake in this long");
    option(app, "base-path", c.base_path, "Prefix of every API path");
    option(app, "data-dir", c.data_dir, "Where metadata, bytes and generated keys live");
    option(app, "region", c.region, "This service's region (us, jp, eu, sg, ...)");
    option(app, "region-host", v.region_hosts,
           "Other regions' API hosts, region=URL, named when refusing their tokens");
    option(app, "storage-access-key", c.storage_access_key,
           "Storage endpoint access key (generated into data-dir when unset)");
    option(app, "storage-secret-key", c.storage_secret_key,
           "Storage endpoint secret key (generated into data-dir when unset)");
    option(app, "storage-region", c.storage_region, "SigV4 region of the storage endpoint");
    option(app, "bucket", c.bucket, "Bucket name in storage URLs");
    option(app, "database-url", c.database_url,
           "PostgreSQL URL (postgres://user:password@host:port/db) for metadata shared by "
           "replicas; default: SQLite in data-dir");
    option(app, "database-connections", c.database_connections,
           "PostgreSQL connections each replica keeps at most")
        ->check(CLI::Range(1u, 1000u));
    option(app, "s3-endpoint", c.s3_endpoint,
           "S3-compatible store for the bytes, e.g. https://s3.us-east-1.amazonaws.com; "
           "default: the embedded store in data-dir");
    option(app, "s3-bucket", c.s3_bucket, "Bucket in --s3-endpoint (must exist)");
    option(app, "s3-region", c.s3_region, "SigV4 region of --s3-endpoint");
    option(app, "s3-access-key", c.s3_access_key, "Access key for --s3-endpoint");
    option(app, "s3-secret-key", c.s3_secret_key, "Secret key for --s3-endpoint");
    option(app, "s3-read-streams", c.s3_read_streams,
           "Ranged GETs at once when complete-upload reads an object back for its MD5 (more "
           "than 1 helps where one connection to the store is slower than ~800 MB/s, as on AWS)")
        ->check(CLI::Range(1u, 16u));
    app.add_flag("--s3-path-style", c.s3_path_style,
                 "Address the bucket as endpoint/bucket/key (Ceph RGW, MinIO) rather than "
                 "bucket.endpoint/key")
        ->envname(env_name("s3-path-style"));
    option(app, "token-signing-key", c.token_signing_key,
           "Key that signs access tokens, at least 32 characters; share it between replicas "
           "(generated into data-dir when unset)");
    option(app, "max-file-size", c.max_file_size, "Largest filesize accepted (bytes)");
    option(app, "allowed-filetypes", c.allowed_filetypes, "Audio extensions accepted")
        ->delimiter(',');
    seconds(app, "upload-ttl", v.upload_ttl, c.upload_ttl, "Time an upload may stay open");
    seconds(app, "download-url-ttl", v.download_url_ttl, c.download_url_ttl,
            "Validity of a DownloadUrl");
    seconds(app, "sweep-interval", v.sweep_interval, c.sweep_interval,
            "How often expired uploads are swept");
    option(app, "max-open-uploads-per-user", c.max_open_uploads_per_user,
           "Uploads one user may have in progress");
    option(app, "max-open-uploads-per-partner", c.max_open_uploads_per_partner,
           "Uploads one partner may have in progress across all its users");
    option(app, "max-open-bytes-per-partner", c.max_open_bytes_per_partner,
           "Declared sizes of one partner's uploads in progress, added up (bytes)");
    option(app, "min-free-bytes", c.min_free_bytes,
           "Free space kept on the data dir's disk: an upload that would eat into it gets 507 "
           "storage_full (0: none)");
    seconds(app, "partner-token-ttl", v.partner_token_ttl, c.partner_token_ttl,
            "Validity of a partner access token");
    seconds(app, "user-token-max-ttl", v.user_token_max_ttl, c.user_token_max_ttl,
            "Longest expires_in a user token may ask for");
    option(app, "token-requests-per-minute", c.token_requests_per_minute,
           "Token endpoint requests per client_id per minute (only requests with the right "
           "secret or refresh token count)");
    option(app, "token-requests-per-minute-per-address", c.token_requests_per_minute_per_address,
           "Token endpoint requests per source address per minute (all count, checked first)");
    option(app, "partner-requests-per-minute", c.partner_requests_per_minute,
           "API requests one partner's tokens may make per minute (0: no limit); on PostgreSQL "
           "replicas share the count, each adding its own every second");
    option(app, "content-check", c.content_check,
           "What complete-upload does with the bytes: off; record (probe them with libavformat "
           "and show the audio facts, or why they are not the declared audio); enforce (also "
           "refuse them with 422 content_mismatch)")
        ->check(CLI::IsMember({"off", "record", "enforce"}));
    v.webhook_retry_schedule = "30s,5m,30m,2h,24h";
    option(app, "webhook-retry-schedule", v.webhook_retry_schedule,
           "Waits before each retry of a webhook delivery that failed, comma-separated with "
           "units ms, s, m, h, d; after the last the delivery has failed for good");
    seconds(app, "webhook-timeout", v.webhook_timeout, c.webhook_timeout,
            "Longest a webhook receiver may take to answer one delivery");
    app.add_flag("--webhook-allow-http", c.webhook_allow_http,
                 "Accept http:// webhook URLs (development only: deliveries go unencrypted)")
        ->envname(env_name("webhook-allow-http"));
    app.add_flag("--webhook-allow-private", c.webhook_allow_private,
                 "Let webhooks reach loopback, private and link-local addresses (receivers on "
                 "the same network; never on a multi-tenant host)")
        ->envname(env_name("webhook-allow-private"));
    option(app, "webhook-threads", c.webhook_threads, "Webhook deliveries under way at once")
        ->check(CLI::Range(1u, 256u));
    option(app, "max-header-bytes", c.max_header_bytes, "Largest request header");
    option(app, "max-json-body-bytes", c.max_json_body_bytes, "Largest JSON request body");
    option(app, "max-connections", c.max_connections,
           "Open connections across both listeners (0: the file-descriptor limit less a "
           "reserve); past it new ones get 503");
    option(app, "max-connections-per-address", c.max_connections_per_address,
           "Open connections from one address, IPv6 counted per /64 (0: no cap); past it new "
           "ones get 429");
    option(app, "trusted-proxies", c.trusted_proxies,
           "Load balancers in front of the server, as networks or addresses "
           "(10.0.0.0/8,2001:db8::/32): requests through them count against the client "
           "address in X-Forwarded-For, and their connections are not capped per address");
    option(app, "cors-allowed-origins", c.cors_allowed_origins,
           "Web origins whose pages may upload from a browser, comma-separated "
           "(https://app.example.com,http://localhost:3000) or * for any: both listeners then "
           "answer CORS preflights and expose ETag to scripts");
    app.add_flag("--demo", c.demo,
                 "Serve a demo upload page at /demo/ (drag and drop, progress, playback; the "
                 "user token goes in the URL fragment, #token=...); the API's own origin may "
                 "then PUT parts to the storage endpoint")
        ->envname(env_name("demo"));
    seconds(app, "idle-timeout", v.idle_timeout, c.idle_timeout,
            "Cut a connection that sends or reads nothing for this long");
    seconds(app, "request-timeout", v.request_timeout, c.request_timeout,
            "Longest time one request may take");
    seconds(app, "shutdown-grace", v.shutdown_grace, c.shutdown_grace,
            "On SIGTERM, time in-flight requests get to finish");
    option(app, "threads", c.threads, "Network threads (0: one per core, at least 2)");
    option(app, "metadata-threads", c.metadata_threads,
           "Threads for database calls (0: 8 on SQLite, --database-connections on PostgreSQL)");
    option(app, "storage-threads", c.storage_threads,
           "Threads for disk writes, fsync and rename, or calls to S3 (0: 4 on local disk, 16 "
           "on S3)");
    option(app, "hash-threads", c.hash_threads,
           "Threads advancing uploads' whole-file MD5 in the background (0: one per core)");
    option(app, "argon2-threads", c.argon2_threads,
           "Threads verifying partner secrets, 19 MiB each (0: one per core)");
    option(app, "worker-queue", c.worker_queue,
           "Tasks each worker pool queues at most; past it requests get 503 server_busy")
        ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20));
    option(app, "log-format", v.log_format, "Log lines as logfmt (text) or JSON objects (json)")
        ->check(CLI::IsMember({"text", "json"}));
}

std::optional<std::string> finish_config(core::Config& c, const OptionValues& v) {
    c.upload_ttl = std::chrono::seconds(v.upload_ttl);
    c.download_url_ttl = std::chrono::seconds(v.download_url_ttl);
    c.sweep_interval = std::chrono::seconds(v.sweep_interval);
    c.partner_token_ttl = std::chrono::seconds(v.partner_token_ttl);
    c.user_token_max_ttl = std::chrono::seconds(v.user_token_max_ttl);
    c.idle_timeout = std::chrono::seconds(v.idle_timeout);
    c.request_timeout = std::chrono::seconds(v.request_timeout);
    c.shutdown_grace = std::chrono::seconds(v.shutdown_grace);
    c.tls_handshake_timeout = std::chrono::seconds(v.tls_handshake_timeout);
    c.webhook_timeout = std::chrono::seconds(v.webhook_timeout);
    if (auto schedule = parse_schedule(v.webhook_retry_schedule)) {
        c.webhook_retry_schedule = std::move(*schedule);
    } else {
        return "--webhook-retry-schedule takes 1 to 20 waits of at most 7 days, e.g. "
               "30s,5m,30m,2h,24h; got '" +
               v.webhook_retry_schedule + "'";
    }
    for (const auto& entry : v.region_hosts) {
        const auto eq = entry.find('=');
        if (eq == std::string::npos || eq == 0) {
            return "--region-host takes region=URL, got '" + entry + "'";
        }
        if (!is_http_url(entry.substr(eq + 1))) {
            return "--region-host takes region=URL with an http:// or https:// URL, got '" + entry +
                   "'";
        }
        c.region_hosts[entry.substr(0, eq)] = entry.substr(eq + 1);
    }
    for (auto& type : c.allowed_filetypes) {
        std::transform(type.begin(), type.end(), type.begin(),
                       [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
    }
    // Unset public URLs are derived from the bound listeners when serving (runtime.cpp):
    // with port 0 only the kernel knows the port.
    while (c.public_url.ends_with('/')) c.public_url.pop_back();
    while (c.storage_public_url.ends_with('/')) c.storage_public_url.pop_back();
    if (c.base_path.empty() || c.base_path.front() != '/' || c.base_path.back() == '/') {
        return "--base-path must start with '/' and not end with one, e.g. /developer/api";
    }
    for (const auto* url : {&c.public_url, &c.storage_public_url}) {
        if (!url->empty() && !is_http_url(*url)) {
            return "--public-url and --storage-public-url take http(s):// URLs, got '" + *url + "'";
        }
    }
    // The ready line prints public_url with the base path; copied back, it means the same.
    if (c.public_url.ends_with(c.base_path)) {
        c.public_url.resize(c.public_url.size() - c.base_path.size());
    }
    if (c.max_file_size == 0) return "--max-file-size must be positive";
    if (c.download_url_ttl.count() > 7 * 24 * 3600 || c.upload_ttl.count() > 7 * 24 * 3600) {
        return "--download-url-ttl and --upload-ttl are at most 604800 s (S3 presigned URLs "
               "live at most 7 days)";
    }
    if (!c.token_signing_key.empty() && c.token_signing_key.size() < kMinTokenSigningKeyChars) {
        return "--token-signing-key must be at least " + std::to_string(kMinTokenSigningKeyChars) +
               " characters, e.g. the output of `openssl rand -base64 48`; leave it unset on a "
               "single node to have one generated into the data dir";
    }
    if (auto origins = http::CorsOrigins::parse(c.cors_allowed_origins); !origins) {
        return "--cors-allowed-origins: " + origins.error().message;
    }
    if (auto proxies = http::TrustedProxies::parse(c.trusted_proxies); !proxies) {
        return "--trusted-proxies: " + proxies.error().message;
    }
    if (auto problem = check_scale_out(c)) return problem;
    if (auto problem = check_tls(c)) return problem;
    if (c.storage_access_key.empty() != c.storage_secret_key.empty()) {
        return "give both --storage-access-key and --storage-secret-key, or neither";
    }
    return std::nullopt;
}

}  // namespace audiodrop::server
