// audiodrop-server: the regional File Upload API service and its operator commands.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/cli_help.hpp"
#include "core/log.hpp"
#include "server/options.hpp"
#include "server/partner_commands.hpp"
#include "server/runtime.hpp"

int main(int argc, char** argv) {
    using namespace audiodrop;
    // The data dir holds partner secret hashes, signing keys and users' recordings:
    // whatever this process creates (directories, SQLite files, parts) is the owner's
    // alone, whichever library creates it. Explicit modes where we open files say the same.
    ::umask(S_IRWXG | S_IRWXO);
    CLI::App app{"audiodrop-server: the Plaud-compatible File Upload API service"};
    app.formatter(std::make_shared<core::FallthroughHelpFormatter>());
    app.require_subcommand(1);
    core::Config config;
    server::OptionValues values;
    server::add_config_options(app, config, values);

    auto* serve = app.add_subcommand(
        "serve", "Run the API (and the embedded storage endpoint, unless --s3-endpoint)");
    serve->fallthrough();
    const auto partner = server::add_partner_commands(app);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (auto problem = server::finish_config(config, values)) {
        std::cerr << "audiodrop-server: " << *problem << "\n";
        return 2;
    }
    const auto logger = std::make_shared<const core::Log>(
        values.log_format == "json" ? core::LogFormat::json : core::LogFormat::text);
    if (serve->parsed()) return server::serve(std::move(config), logger);
    return server::run_partner_command(*partner, std::move(config));
}
