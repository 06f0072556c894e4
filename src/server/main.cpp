// audiodrop-server: the regional File Upload API service and its operator commands.

#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <iostream>

#include "core/cli_help.hpp"
#include "core/log.hpp"
#include "server/options.hpp"
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
    auto* partner = app.add_subcommand("partner", "Manage partner credentials");
    partner->require_subcommand(1);
    partner->fallthrough();
    auto* create = partner->add_subcommand(
        "create", "Provision a partner; prints {\"client_id\",\"secret_key\"} once");
    create->fallthrough();
    std::string name;
    create->add_option("--name", name, "Partner name")->required();
    auto* revoke = partner->add_subcommand(
        "revoke-tokens",
        "Revoke every token a partner holds (its refresh tokens, its and its users' access "
        "tokens) on every replica within seconds; tokens issued afterwards work");
    revoke->fallthrough();
    std::string client_id;
    revoke->add_option("client_id", client_id, "The partner's client_id")->required();

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
    if (revoke->parsed())
        return server::revoke_partner_tokens(std::move(config), client_id, logger);
    return server::create_partner(std::move(config), name, logger);
}
