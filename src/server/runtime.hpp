#pragma once

#include "auth/auth_service.hpp"
#include "core/config.hpp"
#include "core/log.hpp"

namespace audiodrop::server {

// The composition root of `serve`: the only place that names concrete backends. Opens
// the stores under config.data_dir, builds the services and both listeners, prints a
// ready line, serves until SIGTERM or SIGINT, then drains in-flight requests (up to
// shutdown_grace) and returns the process exit code.
int serve(core::Config config, const core::Logger& logger);

// What the AuthService of `serve` and of the `partner` commands is configured with.
auth::AuthOptions auth_options(const core::Config& config);

}  // namespace audiodrop::server
