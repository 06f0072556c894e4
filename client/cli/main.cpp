// audiodrop: the partner command line, one command per API call plus a resumable upload,
// and `webhook listen`, a local receiver for developing a webhook endpoint.
// Exit codes: 0 success, 2 usage error, 1 any other failure (one line on stderr).

#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>

#include "audiodrop/client.hpp"
#include "core/cli_help.hpp"
#include "interrupt_watcher.hpp"
#include "progress_printer.hpp"
#include "webhook_listener.hpp"

namespace {

using namespace audiodrop;
using nlohmann::json;

constexpr int kExitFailure = 1;
constexpr int kExitUsage = 2;
constexpr int kExitInterrupted = 130;

struct GlobalFlags {
    std::string endpoint;
    std::string region;
    std::string state_dir;
    std::string ca_cert;
    bool json = false;
    bool quiet = false;
};

int fail(const client::Error& e) {
    std::cerr << "audiodrop: " << e.message << "\n";
    return e.kind == client::ErrorKind::usage ? kExitUsage : kExitFailure;
}

int usage(const std::string& message) {
    std::cerr << "audiodrop: " << message << " (see --help)\n";
    return kExitUsage;
}

// Each setting comes from its flag, else from the environment, else the default: these
// are read by hand rather than with CLI11's envname, which fills the option of every
// subcommand that declares it, so the last declared one could overwrite a flag.
std::optional<std::string> from_env(const char* name) {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
}

client::Result<std::string> resolve_endpoint(const GlobalFlags& flags) {
    if (!flags.endpoint.empty()) return client::api_base_url(flags.endpoint);
    if (!flags.region.empty()) return client::endpoint_for_region(flags.region);
    if (auto env = from_env("AUDIODROP_ENDPOINT")) return client::api_base_url(*env);
    return client::endpoint_for_region("us");
}

std::filesystem::path resolve_state_dir(const GlobalFlags& flags) {
    if (!flags.state_dir.empty()) return flags.state_dir;
    if (const char* xdg = std::getenv("XDG_STATE_HOME"); xdg != nullptr && *xdg != '\0') {
        return std::filesystem::path(xdg) / "audiodrop";
    }
    if (const char* home = std::getenv("HOME"); home != nullptr && *home != '\0') {
        return std::filesystem::path(home) / ".local" / "state" / "audiodrop";
    }
    return {};
}

void print(const GlobalFlags& flags, const json& doc, const std::string& plain) {
    if (flags.json) {
        std::cout << doc.dump() << "\n";
    } else {
        std::cout << plain;
    }
}

std::string lines(const json& doc) {
    std::string out;
    for (const auto& [key, value] : doc.items()) {
        if (value.is_string() && value.get<std::string>().empty()) continue;
        out += key + ": " + (value.is_string() ? value.get<std::string>() : value.dump()) + "\n";
    }
    return out;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"audiodrop: upload recordings to the Plaud-compatible File Upload API"};
    app.formatter(std::make_shared<core::FallthroughHelpFormatter>());
    app.require_subcommand(1);
    GlobalFlags flags;
    auto* endpoint_opt = app.add_option(
        "--endpoint", flags.endpoint,
        "API URL, e.g. https://platform-us.plaud.ai/developer/api; a bare host such as "
        "http://127.0.0.1:8080 gets the base path /developer/api ($AUDIODROP_ENDPOINT)");
    app.add_option("--region", flags.region, "Region whose host to use: us, jp, eu, sg")
        ->excludes(endpoint_opt);
    app.add_option("--state-dir", flags.state_dir,
                   "Where resume journals live (default $XDG_STATE_HOME/audiodrop or "
                   "~/.local/state/audiodrop)");
    app.add_option("--ca-cert", flags.ca_cert,
                   "PEM file of CA certificates to trust for https:// API and storage URLs, "
                   "e.g. a private CA's ($AUDIODROP_CA_CERT)");
    app.add_flag("--json", flags.json, "Print the result as JSON");
    app.add_flag("-q,--quiet", flags.quiet, "No progress output");

    auto* token = app.add_subcommand("token", "Get access tokens (Authentication API)");
    token->require_subcommand(1);
    token->fallthrough();
    std::string client_id, secret_key, partner_token, user_id;
    std::optional<std::int64_t> expires_in;
    auto* partner = token->add_subcommand("partner", "Get a partner token from client credentials");
    partner->fallthrough();
    partner->add_option("--client-id", client_id, "Partner client_id")->required();
    partner->add_option("--secret-key", secret_key, "Partner secret_key")->required();
    auto* user = token->add_subcommand("user", "Get a user token with a partner token");
    user->fallthrough();
    user->add_option("--partner-token", partner_token, "Partner access token")->required();
    user->add_option("--user-id", user_id, "The user's id (6-120 characters)")->required();
    user->add_option("--expires-in", expires_in, "Lifetime in seconds");

    std::string user_token;
    const auto add_token = [&](CLI::App* cmd) {
        cmd->add_option("--token", user_token, "User access token ($AUDIODROP_TOKEN)");
    };
    auto* upload = app.add_subcommand("upload", "Upload a file (parallel parts, resumable)");
    upload->fallthrough();
    std::string file, filetype = "mp3";
    int parallel = 4;
    bool no_resume = false;
    upload->add_option("FILE", file, "The file to upload")->required();
    upload->add_option("--filetype", filetype, "File type, e.g. mp3, m4a, wav")
        ->capture_default_str();
    upload->add_option("--parallel", parallel, "Parts in flight at once")
        ->check(CLI::Range(1, 64))
        ->capture_default_str();
    std::uint64_t limit_rate = 0;
    upload->add_option("--limit-rate", limit_rate,
                       "Upload bandwidth cap per connection, bytes per second (0: none)");
    upload->add_flag("--no-resume", no_resume, "Neither resume nor keep a journal");
    add_token(upload);

    auto* status = app.add_subcommand("status", "Show a file's upload status");
    status->fallthrough();
    std::string file_id;
    status->add_option("FILE_ID", file_id, "The FileId")->required();
    add_token(status);

    auto* download = app.add_subcommand("download", "Download a completed file");
    download->fallthrough();
    std::string out;
    download->add_option("FILE_ID", file_id, "The FileId")->required();
    download->add_option("-o,--output", out, "Where to write it")->required();
    add_token(download);

    auto* webhook = app.add_subcommand("webhook", "Receive webhooks locally");
    webhook->require_subcommand(1);
    webhook->fallthrough();
    cli::WebhookListenOptions listen_options;
    auto* listen = webhook->add_subcommand(
        "listen",
        "Receive webhooks on a local port: verify both signatures with the secret and print "
        "each event as one JSON line");
    listen->fallthrough();
    cli::add_webhook_listen_options(*listen, listen_options);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : kExitUsage;
    }

    if (listen->parsed()) return cli::run_webhook_listener(listen_options);

    auto endpoint = resolve_endpoint(flags);
    if (!endpoint) return fail(endpoint.error());
    client::ClientOptions client_options;
    client_options.endpoint = *endpoint;
    client_options.max_send_rate = limit_rate;
    client_options.ca_cert =
        flags.ca_cert.empty() ? from_env("AUDIODROP_CA_CERT").value_or("") : flags.ca_cert;
    const client::Client api(std::move(client_options));

    if (partner->parsed()) {
        auto t = api.partner_token(client_id, secret_key);
        if (!t) return fail(t.error());
        print(flags,
              {{"access_token", t->access_token},
               {"refresh_token", t->refresh_token},
               {"token_type", "bearer"},
               {"expires_in", t->expires_in}},
              t->access_token + "\n");
        return 0;
    }
    if (user->parsed()) {
        auto t = api.user_token(partner_token, user_id, expires_in);
        if (!t) return fail(t.error());
        print(flags,
              {{"access_token", t->access_token},
               {"token_type", "bearer"},
               {"expires_in", t->expires_in}},
              t->access_token + "\n");
        return 0;
    }
    if (user_token.empty()) user_token = from_env("AUDIODROP_TOKEN").value_or("");
    if (user_token.empty()) return usage("a user token is required: --token or AUDIODROP_TOKEN");

    if (upload->parsed()) {
        client::UploadOptions options;
        options.filetype = filetype;
        options.parallel = parallel;
        if (!no_resume) options.state_dir = resolve_state_dir(flags);
        std::optional<cli::ProgressPrinter> progress;
        if (!flags.quiet) {
            progress.emplace(stderr, ::isatty(STDERR_FILENO) == 1);
            options.on_progress = [&](const client::UploadProgress& p) { progress->update(p); };
        }
        cli::InterruptWatcher interrupt;
        options.cancel = &interrupt.raised();
        auto r = api.upload(user_token, file, options);
        if (progress) progress->finish();
        if (!r && r.error().kind == client::ErrorKind::cancelled) {
            std::cerr << "audiodrop: interrupted"
                      << (options.state_dir.empty() ? "" : "; run the same command again to resume")
                      << "\n";
            return kExitInterrupted;
        }
        if (!r) return fail(r.error());
        const json doc{{"FileId", r->file_id},
                       {"FileType", r->file_type},
                       {"FileMd5", r->file_md5},
                       {"DownloadUrl", r->download_url},
                       {"Resumed", r->resumed},
                       {"PartsSent", r->parts_sent},
                       {"PartsSkipped", r->parts_skipped}};
        print(flags, doc, lines(doc));
        return 0;
    }
    if (status->parsed()) {
        auto s = api.status(user_token, file_id);
        if (!s) return fail(s.error());
        const json doc{{"FileId", s->file_id},       {"UploadId", s->upload_id},
                       {"Status", s->status},        {"FileSize", s->file_size},
                       {"FileType", s->file_type},   {"ChunkSize", s->chunk_size},
                       {"PartCount", s->part_count}, {"CreatedAt", s->created_at},
                       {"ExpiresAt", s->expires_at}, {"CompletedAt", s->completed_at},
                       {"FileMd5", s->file_md5},     {"DownloadUrl", s->download_url}};
        print(flags, doc, lines(doc));
        return 0;
    }
    auto bytes = api.download(user_token, file_id, out);
    if (!bytes) return fail(bytes.error());
    print(flags, {{"FileId", file_id}, {"Path", out}, {"Bytes", *bytes}},
          "wrote " + std::to_string(*bytes) + " bytes to " + out + "\n");
    return 0;
}
