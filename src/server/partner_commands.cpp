#include "server/partner_commands.hpp"

#include <iostream>
#include <nlohmann/json.hpp>

#include "auth/auth_service.hpp"
#include "core/time_format.hpp"
#include "server/backends.hpp"
#include "server/runtime.hpp"
#include "server/secrets.hpp"

namespace audiodrop::server {
namespace {

using Json = nlohmann::json;

// A subcommand of `partner` that takes the server's options too, and a partner's
// client_id into `client_id` when that is given.
CLI::App* add_command(CLI::App& partner, const std::string& name, const std::string& what,
                      std::string* client_id = nullptr) {
    auto* command = partner.add_subcommand(name, what);
    command->fallthrough();
    if (client_id) {
        command->add_option("client_id", *client_id, "The partner's client_id")->required();
    }
    return command;
}

Json listing_json(const metadata::PartnerListing& listing) {
    const metadata::Partner& p = listing.partner;
    Json out{{"client_id", p.client_id},
             {"name", p.name},
             {"status", p.disabled_at ? "disabled" : "active"},
             {"created_at", core::rfc3339(p.created_at)}};
    if (p.disabled_at) out["disabled_at"] = core::rfc3339(*p.disabled_at);
    out["token_generation"] = p.token_generation;
    out["open_uploads"] = listing.holdings.open_uploads;
    out["files"] = listing.holdings.files;
    return out;
}

// The partner as `show` prints it.
core::Result<Json> show(metadata::MetadataStore& store, const std::string& client_id) {
    AUDIODROP_TRY_ASSIGN(auto partner, store.find_partner(client_id));
    if (!partner) {
        return core::make_error(core::ErrorKind::not_found, "partner_not_found",
                                "No partner has client_id " + client_id + ".");
    }
    AUDIODROP_TRY_ASSIGN(auto holdings, store.count_partner_holdings(client_id));
    return listing_json({std::move(*partner), holdings});
}

core::Result<Json> list(metadata::MetadataStore& store) {
    AUDIODROP_TRY_ASSIGN(const auto listings, store.list_partners());
    Json out = Json::array();
    for (const auto& listing : listings) out.push_back(listing_json(listing));
    return out;
}

// `partner delete`: refused, saying what the partner holds, unless --with-files.
core::Result<Json> remove(auth::AuthService& auth, const std::string& client_id, bool with_files) {
    auto abandoned = auth.delete_partner(client_id, with_files);
    if (!abandoned && abandoned.error().kind == core::ErrorKind::conflict) {
        return core::make_error(core::ErrorKind::conflict, "partner_has_uploads",
                                abandoned.error().message +
                                    " Pass --with-files to delete them (bytes and records) "
                                    "with the partner.");
    }
    if (!abandoned) return abandoned.error();
    return Json{{"client_id", client_id},
                {"deleted", true},
                {"files_deleted", abandoned->files},
                {"uploads_aborted", abandoned->open_uploads}};
}

// What the parsed subcommand prints.
core::Result<Json> run(const PartnerCommandLine& line, auth::AuthService& auth,
                       metadata::MetadataStore& store) {
    const std::string& id = line.client_id;
    if (line.create->parsed()) {
        AUDIODROP_TRY_ASSIGN(auto partner, auth.create_partner(line.name));
        return Json{{"client_id", partner.client_id}, {"secret_key", partner.secret_key}};
    }
    if (line.list->parsed()) return list(store);
    if (line.show->parsed()) return show(store, id);
    if (line.disable->parsed()) {
        AUDIODROP_TRY(auth.disable_partner(id));
        return show(store, id);
    }
    if (line.enable->parsed()) {
        AUDIODROP_TRY(auth.enable_partner(id));
        return show(store, id);
    }
    if (line.rotate_secret->parsed()) {
        AUDIODROP_TRY_ASSIGN(auto partner, auth.rotate_secret(id));
        return Json{{"client_id", partner.client_id}, {"secret_key", partner.secret_key}};
    }
    if (line.revoke_tokens->parsed()) {
        AUDIODROP_TRY(auth.revoke_tokens(id));
        return Json{{"client_id", id}, {"tokens_revoked", true}};
    }
    return remove(auth, id, line.with_files);
}

std::string parsed_name(const PartnerCommandLine& line) {
    for (const CLI::App* command : line.partner->get_subcommands()) return command->get_name();
    return "partner";
}

}  // namespace

std::unique_ptr<PartnerCommandLine> add_partner_commands(CLI::App& app) {
    auto line = std::make_unique<PartnerCommandLine>();
    auto* partner = app.add_subcommand("partner", "Manage partner credentials");
    partner->require_subcommand(1);
    partner->fallthrough();
    line->partner = partner;

    line->create = add_command(*partner, "create",
                               "Provision a partner; prints {\"client_id\",\"secret_key\"} once");
    line->create->add_option("--name", line->name, "Partner name")->required();
    line->list = add_command(
        *partner, "list",
        "Print every partner as a JSON array of {client_id, name, status (active|disabled), "
        "created_at, disabled_at?, token_generation, open_uploads, files}");
    line->show =
        add_command(*partner, "show", "Print one partner as `list` does", &line->client_id);
    line->disable = add_command(
        *partner, "disable",
        "Revoke every token the partner holds, on every replica within seconds, and issue it "
        "none (401 partner_disabled) until `enable`; prints the partner",
        &line->client_id);
    line->enable = add_command(
        *partner, "enable",
        "Let a disabled partner get tokens again (those revoked stay revoked); prints the "
        "partner",
        &line->client_id);
    line->rotate_secret = add_command(
        *partner, "rotate-secret",
        "Give the partner a new secret_key and revoke its tokens: the old secret fails at once; "
        "prints {\"client_id\",\"secret_key\"} once",
        &line->client_id);
    line->revoke_tokens = add_command(
        *partner, "revoke-tokens",
        "Revoke every token a partner holds (its refresh tokens, its and its users' access "
        "tokens) on every replica within seconds; tokens issued afterwards work",
        &line->client_id);
    line->remove = add_command(
        *partner, "delete",
        "Delete the partner, its webhooks and its tokens (refused on every replica within "
        "seconds). Refused while it holds files or open uploads, unless --with-files",
        &line->client_id);
    line->remove->add_flag("--with-files", line->with_files,
                           "Also delete its files and abort its open uploads: their records "
                           "at once, their bytes at the next sweep of a running server");
    return line;
}

int run_partner_command(const PartnerCommandLine& line, core::Config config) {
    const std::string command = "audiodrop-server partner " + parsed_name(line);
    const auto failed = [&](const core::Error& e) {
        std::cerr << command << ": " << e.message << "\n";
        return 1;
    };
    core::SystemClock clock;
    if (auto r = load_or_create_secrets(config); !r) return failed(r.error());
    auto metadata = open_metadata(config);
    if (!metadata) return failed(metadata.error());
    auth::AuthService auth(**metadata, clock, config.token_signing_key, auth_options(config));
    auto printed = run(line, auth, **metadata);
    if (!printed) return failed(printed.error());
    std::cout << printed->dump() << std::endl;
    return 0;
}

}  // namespace audiodrop::server
