#pragma once

#include "core/config.hpp"
#include "core/worker_pool.hpp"

namespace audiodrop::server {

// The server's worker pools, sized from the config (DESIGN §3 "Execution model"): each
// kind of blocking work on its own bounded pool.
struct WorkerPools {
    explicit WorkerPools(const core::Config& config);

    // Lets running tasks finish and joins every pool: before the stores the tasks use
    // go away.
    void stop();

    core::WorkerPool metadata;
    core::WorkerPool storage;
    core::WorkerPool hash;
    core::WorkerPool argon2;
    // Webhook deliveries, each a POST waiting up to --webhook-timeout.
    core::WorkerPool webhook;
};

// Network threads for `config`.
unsigned network_threads(const core::Config& config);

}  // namespace audiodrop::server
