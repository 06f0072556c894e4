#pragma once

// The `partner` operator commands of audiodrop-server: provisioning, listing, disabling,
// secret rotation, token revocation and deletion of partners, each printing one line of
// JSON. They work on the configured metadata store directly, so they run beside live
// replicas; what they change reaches every replica by its next auth sync (about 1 s).

#include <CLI/CLI.hpp>
#include <memory>
#include <string>

#include "core/config.hpp"

namespace audiodrop::server {

// The command lines of `partner` and its subcommands, and what they were given.
struct PartnerCommandLine {
    CLI::App* partner = nullptr;
    CLI::App* create = nullptr;
    CLI::App* list = nullptr;
    CLI::App* show = nullptr;
    CLI::App* disable = nullptr;
    CLI::App* enable = nullptr;
    CLI::App* rotate_secret = nullptr;
    CLI::App* revoke_tokens = nullptr;
    CLI::App* remove = nullptr;  // `partner delete`
    std::string name;
    std::string client_id;
    bool with_files = false;
};

// Declares `partner` and its subcommands on `app`; the values land in the result, which
// must live until the command has run.
std::unique_ptr<PartnerCommandLine> add_partner_commands(CLI::App& app);

// Runs the subcommand that was parsed and returns the exit code: 0 when done, 1 when it
// failed (an unknown client_id, a delete refused, a store that cannot be reached), with
// a message on stderr.
int run_partner_command(const PartnerCommandLine& line, core::Config config);

}  // namespace audiodrop::server
