#pragma once

#include <CLI/CLI.hpp>
#include <optional>
#include <string>
#include <vector>

#include "core/config.hpp"

namespace audiodrop::server {

// Raw values of the options that are not stored in Config as they are typed
// (durations in seconds, lists), converted by finish().
struct OptionValues {
    std::int64_t upload_ttl = 0;
    std::int64_t download_url_ttl = 0;
    std::int64_t sweep_interval = 0;
    std::int64_t partner_token_ttl = 0;
    std::int64_t user_token_max_ttl = 0;
    std::int64_t idle_timeout = 0;
    std::int64_t request_timeout = 0;
    std::int64_t shutdown_grace = 0;
    std::int64_t tls_handshake_timeout = 0;
    std::int64_t webhook_timeout = 0;
    std::string webhook_retry_schedule;
    std::vector<std::string> region_hosts;
    std::string log_format = "text";
};

// Declares every server option on `app`: each has a flag, an AUDIODROP_* environment
// variable and a key in the --config file (TOML or INI; keys are the long flag names).
// Precedence: flag, then environment, then file, then the default.
void add_config_options(CLI::App& app, core::Config& config, OptionValues& values);

// Turns the raw values into Config, fills defaults that depend on other options, and
// checks the whole. Returns a message for the operator when something is wrong.
std::optional<std::string> finish_config(core::Config& config, const OptionValues& values);

}  // namespace audiodrop::server
