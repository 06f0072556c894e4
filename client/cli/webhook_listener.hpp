#pragma once

// `audiodrop webhook listen`: a local receiver for developing a webhook endpoint, like
// `stripe listen`. Each POST must carry both signatures (Plaud and Standard Webhooks)
// that verify with --secret within --tolerance; it is then answered 200 and its body
// printed as one compact JSON line on stdout (flushed per event), so the output can be
// piped into jq or a test. Anything else gets 4xx with a one-line reason, which also
// goes to stderr. Runs until SIGINT or SIGTERM (exit 0; a second one exits at once).

#include <CLI/CLI.hpp>
#include <cstdint>
#include <string>

namespace audiodrop::cli {

struct WebhookListenOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = 0;  // 0: one the kernel picks, printed at start
    std::string secret;
    std::int64_t tolerance_seconds = 300;
};

// Declares the options of the `listen` subcommand, filling `options` when parsed.
void add_webhook_listen_options(CLI::App& listen, WebhookListenOptions& options);

// Serves until SIGINT/SIGTERM; the process exit code (0 then, 1 when it cannot listen,
// 2 for a secret that is not whsec_...).
int run_webhook_listener(const WebhookListenOptions& options);

}  // namespace audiodrop::cli
