#pragma once

// Which stores the server runs on, chosen from the config: SQLite in data_dir or
// PostgreSQL for metadata; the local disk behind the embedded S3 endpoint or a remote
// S3 bucket for bytes. The only code that names concrete backends.

#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/config.hpp"
#include "core/error.hpp"
#include "core/worker_pool.hpp"
#include "metadata/metadata_store.hpp"
#include "storage/embedded_bucket.hpp"
#include "storage/local_object_store.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::server {

core::Result<std::unique_ptr<metadata::MetadataStore>> open_metadata(const core::Config& config);

// Whether clients' bytes come to our own storage endpoint (no remote S3 is configured),
// so that the storage listener runs: open_objects() then returns `embedded`.
bool embedded_storage(const core::Config& config);

struct ObjectBackend {
    std::unique_ptr<storage::ObjectStore> store;
    // The same store's bucket side when clients' bytes come to our own storage
    // endpoint; null when they go to a remote S3.
    storage::EmbeddedBucket* embedded = nullptr;
    // The same store when it is the local one (its hashing counters); else null.
    const storage::LocalObjectStore* local = nullptr;
};
// `hash_pool` advances the local store's whole-file MD5s in the background.
core::Result<ObjectBackend> open_objects(const core::Config& config, const core::Clock& clock,
                                         core::WorkerPool& hash_pool);

// For the ready line: where metadata and bytes are, never a password.
std::string describe_metadata(const core::Config& config);
std::string describe_objects(const core::Config& config);

}  // namespace audiodrop::server
