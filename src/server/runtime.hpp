#pragma once

#include "core/config.hpp"
#include "core/log.hpp"

namespace audiodrop::server {

// The composition root of `serve`: the only place that names concrete backends. Opens
// the stores under config.data_dir, builds the services and both listeners, prints a
// ready line, serves until SIGTERM or SIGINT, then drains in-flight requests (up to
// shutdown_grace) and returns the process exit code.
int serve(core::Config config, const core::Logger& logger);

// `partner create`: provisions a partner in the metadata store and prints
// {"client_id","secret_key"} on one line. Returns the exit code.
int create_partner(core::Config config, const std::string& name, const core::Logger& logger);

// `partner revoke-tokens`: revokes every token of the partner and prints
// {"client_id","tokens_revoked":true}. Returns the exit code.
int revoke_partner_tokens(core::Config config, const std::string& client_id,
                          const core::Logger& logger);

}  // namespace audiodrop::server
