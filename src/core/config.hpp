#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace audiodrop::core {

// Everything the server can be told, read once at start from flags, AUDIODROP_*
// environment variables and an optional config file (server/options.cpp), then
// handed down by value. Defaults make a single machine work with nothing else.
struct Config {
    // Listeners and the URLs clients are given.
    std::string listen = "127.0.0.1:8080";
    std::string storage_listen = "127.0.0.1:8081";
    std::string public_url;          // defaults to http(s)://<bound listen address>
    std::string storage_public_url;  // defaults to http(s)://<bound storage_listen address>
    std::string base_path = "/developer/api";
    // TLS on each listener: PEM certificate chain and key files, both or neither (empty:
    // plain HTTP). SIGHUP reads them again.
    std::string tls_cert;
    std::string tls_key;
    std::string storage_tls_cert;
    std::string storage_tls_key;
    std::chrono::seconds tls_handshake_timeout{10};

    // Where metadata and bytes live (embedded default).
    std::string data_dir = "./data";
    std::string region = "us";

    // Scale-out: PostgreSQL for metadata and a remote S3 bucket for bytes, so that any
    // number of replicas can serve one region. Either may be used alone.
    std::string database_url;           // postgres://user:pass@host/db; empty: SQLite in data_dir
    unsigned database_connections = 8;  // per replica
    std::string s3_endpoint;            // scheme://host[:port]; empty: the embedded store
    std::string s3_bucket;
    std::string s3_region = "us-east-1";
    std::string s3_access_key;
    std::string s3_secret_key;
    bool s3_path_style = false;
    // Ranged GETs in flight at once when complete-upload reads an object back for its
    // MD5: more only pays where one connection to the store is slower than MD5.
    unsigned s3_read_streams = 1;

    // Embedded storage endpoint credentials; generated once into data_dir when unset.
    std::string storage_access_key;
    std::string storage_secret_key;
    std::string storage_region = "us-east-1";
    std::string bucket = "audiodrop";
    // Signs access tokens; replicas that share it accept each other's tokens.
    // Generated once into data_dir when unset.
    std::string token_signing_key;
    // Public API host of other regions ("jp=https://..."), named when refusing their tokens.
    std::map<std::string, std::string> region_hosts;

    // Upload rules.
    std::uint64_t max_file_size = 5ULL * 1024 * 1024 * 1024;  // 5 GiB
    std::vector<std::string> allowed_filetypes = {"mp3", "m4a",  "wav", "opus", "ogg",
                                                  "aac", "flac", "amr", "webm"};
    std::chrono::seconds upload_ttl{24 * 3600};
    std::chrono::seconds download_url_ttl{24 * 3600};
    std::chrono::seconds sweep_interval{60};
    unsigned max_open_uploads_per_user = 100;
    std::uint64_t max_open_uploads_per_partner = 10'000;
    std::uint64_t max_open_bytes_per_partner = 1ULL << 40;  // declared filesizes, 1 TiB
    std::uint64_t min_free_bytes = 1ULL << 30;              // local disk kept free; 1 GiB

    // Hand-off to transcription: what complete does with the bytes (off, record or
    // enforce; see docs/API.md "Audio facts"), and webhook deliveries.
    std::string content_check = "record";
    std::vector<std::chrono::milliseconds> webhook_retry_schedule = {
        std::chrono::seconds(30), std::chrono::minutes(5), std::chrono::minutes(30),
        std::chrono::hours(2), std::chrono::hours(24)};
    std::chrono::seconds webhook_timeout{10};
    bool webhook_allow_http = false;     // http:// receivers (development, tests)
    bool webhook_allow_private = false;  // receivers on loopback or private networks
    unsigned webhook_threads = 8;        // deliveries under way at once

    // Tokens.
    std::chrono::seconds partner_token_ttl{2 * 3600};
    std::chrono::seconds refresh_token_ttl{30 * 24 * 3600};
    std::chrono::seconds user_token_default_ttl{2 * 3600};
    std::chrono::seconds user_token_max_ttl{30 * 24 * 3600};
    unsigned token_requests_per_minute = 10;              // per client_id, proven callers
    unsigned token_requests_per_minute_per_address = 60;  // per source address, every call
    unsigned partner_requests_per_minute = 6000;          // API requests per partner; 0: no limit

    // HTTP limits and timeouts (slow clients are cut off, never waited for forever).
    std::size_t max_header_bytes = 16 * 1024;
    std::size_t max_json_body_bytes = 1024 * 1024;
    // Open connections across both listeners (0: what the file-descriptor limit leaves
    // after a reserve for files and the database) and per source address (IPv6: per /64).
    std::size_t max_connections = 0;
    std::size_t max_connections_per_address = 1024;
    // Load balancers in front of the listeners (comma-separated networks or addresses):
    // their connections are not capped per address, and a request through one counts
    // against the address it names in X-Forwarded-For. Empty: the header is ignored.
    std::string trusted_proxies;
    // Web origins whose pages may call both listeners (CORS): exact origins,
    // comma-separated, or "*". Empty: no CORS headers at all.
    std::string cors_allowed_origins;
    // Serve the demo upload page at /demo/ on the API listener (outside the base path),
    // and let the API's own origin PUT parts to the storage endpoint.
    bool demo = false;
    std::chrono::seconds idle_timeout{30};
    std::chrono::seconds request_timeout{300};
    std::chrono::seconds shutdown_grace{20};
    // Threads. Network threads only accept, parse and move bytes; every blocking step
    // runs on a worker pool of its kind, whose queue is bounded (503 server_busy past it).
    // 0 picks a default from the core count and the backends.
    unsigned threads = 0;             // network (I/O) threads
    unsigned metadata_threads = 0;    // SQLite / PostgreSQL calls
    unsigned storage_threads = 0;     // part writes, fsync and rename; calls to S3
    unsigned hash_threads = 0;        // the whole-file MD5 advancing in the background
    unsigned argon2_threads = 0;      // partner secret verification
    std::size_t worker_queue = 1024;  // tasks each pool queues at most
};

}  // namespace audiodrop::core
