#include "server/backends.hpp"

#include <filesystem>

#include "metadata/postgres_metadata_store.hpp"
#include "metadata/sqlite_metadata_store.hpp"
#include "storage/local_object_store.hpp"
#include "storage/s3_object_store.hpp"

namespace audiodrop::server {
namespace {

namespace fs = std::filesystem;

core::Result<void> ensure_data_dir(const core::Config& config) {
    std::error_code ec;
    fs::create_directories(config.data_dir, ec);
    if (ec) {
        return core::make_error(core::ErrorKind::unavailable, "data_dir_unavailable",
                                "cannot create data dir " + config.data_dir + ": " + ec.message());
    }
    return {};
}

fs::path sqlite_path(const core::Config& config) {
    return fs::path(config.data_dir) / "metadata.sqlite3";
}

}  // namespace

core::Result<std::unique_ptr<metadata::MetadataStore>> open_metadata(const core::Config& config) {
    if (!config.database_url.empty()) {
        metadata::PostgresMetadataStore::Options options;
        options.size = config.database_connections;
        AUDIODROP_TRY_ASSIGN(auto store,
                             metadata::PostgresMetadataStore::open(config.database_url, options));
        return std::unique_ptr<metadata::MetadataStore>(std::move(store));
    }
    AUDIODROP_TRY(ensure_data_dir(config));
    AUDIODROP_TRY_ASSIGN(auto store,
                         metadata::SqliteMetadataStore::open(sqlite_path(config).string()));
    return std::unique_ptr<metadata::MetadataStore>(std::move(store));
}

bool embedded_storage(const core::Config& config) { return config.s3_endpoint.empty(); }

core::Result<ObjectBackend> open_objects(const core::Config& config, const core::Clock& clock,
                                         core::WorkerPool& hash_pool) {
    if (!embedded_storage(config)) {
        s3::S3ClientOptions options;
        options.address = s3::BucketAddress{config.s3_endpoint, config.s3_bucket, config.s3_region,
                                            config.s3_path_style};
        options.credentials = s3::Credentials{config.s3_access_key, config.s3_secret_key};
        options.read_parallel = config.s3_read_streams;
        AUDIODROP_TRY_ASSIGN(auto store, storage::S3ObjectStore::open(std::move(options), clock));
        return ObjectBackend{std::move(store), nullptr, nullptr};
    }
    AUDIODROP_TRY(ensure_data_dir(config));
    storage::LocalObjectStore::Options options{
        fs::path(config.data_dir) / "objects", config.bucket,
        s3::Credentials{config.storage_access_key, config.storage_secret_key},
        config.storage_region, config.storage_public_url};
    AUDIODROP_TRY_ASSIGN(auto store, storage::LocalObjectStore::open(options, clock, &hash_pool));
    storage::LocalObjectStore* local = store.get();
    return ObjectBackend{std::move(store), local, local};
}

std::string describe_metadata(const core::Config& config) {
    if (config.database_url.empty()) return "sqlite " + sqlite_path(config).string();
    // postgres://user:password@host/db: show only what follows the credentials.
    const auto at = config.database_url.rfind('@');
    const auto scheme_end = config.database_url.find("://") + 3;
    return "postgresql " +
           config.database_url.substr(at == std::string::npos ? scheme_end : at + 1);
}

std::string describe_objects(const core::Config& config) {
    if (embedded_storage(config)) return "embedded " + config.storage_public_url;
    return "s3 " + config.s3_endpoint + " bucket " + config.s3_bucket;
}

}  // namespace audiodrop::server
