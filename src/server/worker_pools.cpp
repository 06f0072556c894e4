#include "server/worker_pools.hpp"

#include <algorithm>
#include <thread>

namespace audiodrop::server {
namespace {

unsigned cores() { return std::max(1u, std::thread::hardware_concurrency()); }

unsigned or_default(unsigned configured, unsigned fallback) {
    return configured > 0 ? configured : fallback;
}

core::WorkerPool::Options pool(const core::Config& c, std::string name, unsigned threads,
                               int nice = 0) {
    return core::WorkerPool::Options{std::move(name), threads, c.worker_queue, nice};
}

// SQLite's writes queue for its own committer thread (creating an upload does not even
// wait in a thread), so a few threads serve it; PostgreSQL needs a connection per
// concurrent call.
unsigned metadata_default(const core::Config& c) {
    return c.database_url.empty() ? 8 : c.database_connections;
}

// Local disks do several fsyncs at once well; S3 calls are round trips, mostly waiting.
unsigned storage_default(const core::Config& c) { return c.s3_endpoint.empty() ? 4 : 16; }

}  // namespace

unsigned network_threads(const core::Config& config) {
    return or_default(config.threads, std::max(2u, cores()));
}

WorkerPools::WorkerPools(const core::Config& c)
    : metadata(pool(c, "metadata", or_default(c.metadata_threads, metadata_default(c)))),
      // Bulk work (a part's bytes written and hashed) well below the network threads,
      // so a request that needs a millisecond is not queued behind it, and below the
      // whole-file MD5: a frontier that falls behind the parts arriving leaves complete
      // to hash the rest itself, while the client waits.
      storage(pool(c, "storage", or_default(c.storage_threads, storage_default(c)), 10)),
      hash(pool(c, "hash", or_default(c.hash_threads, cores()))),
      // Logins wait a little rather than take the CPU from uploads in flight.
      argon2(pool(c, "argon2", or_default(c.argon2_threads, cores()), 5)),
      // The dispatcher claims only what its threads can send at once.
      webhook(core::WorkerPool::Options{"webhook", c.webhook_threads, c.webhook_threads, 0}) {}

void WorkerPools::stop() {
    for (auto* p : {&metadata, &storage, &hash, &argon2, &webhook}) p->stop();
}

}  // namespace audiodrop::server
