#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "auth/auth_service.hpp"
#include "events/webhook_service.hpp"
#include "http/http_server.hpp"
#include "http/metrics.hpp"
#include "http/offload.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::http {

// Where the API's blocking calls run: metadata-only calls (SQLite or PostgreSQL), calls
// that reach the object store (disk with fsync, or S3 over libcurl), and argon2
// verification of partner secrets, which costs 19 MiB and tens of milliseconds each.
struct ApiPools {
    core::WorkerPool& metadata;
    core::WorkerPool& storage;
    core::WorkerPool& argon2;
};

class DemoPage;

struct ApiOptions {
    std::string base_path = "/developer/api";
    std::size_t max_json_body_bytes = 1024 * 1024;
    // The demo page (--demo), served outside the base path; null: /demo is not a route.
    const DemoPage* demo = nullptr;
};

// The API listener: routes each request to one service call and encodes its answer
// as JSON (DESIGN §2). Knows HTTP and JSON, nothing about storage. A route checks the
// token, reads the body, then runs the parse and the service call on a worker pool;
// the network thread never waits for a store.
class ApiHandler final : public Handler {
  public:
    ApiHandler(auth::AuthService& auth, upload::UploadService& uploads,
               events::WebhookService& webhooks, Metrics& metrics, ApiPools pools,
               ApiOptions options);

    asio::awaitable<void> handle(Exchange& ex) override;
    StringResponse framing_error(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& request_id) override;

  private:
    using Route = asio::awaitable<void> (ApiHandler::*)(Exchange&);
    // The handler of the request, or null; `allow` gets the methods the path allows
    // when the method is not one of them, `label` the route the path matched.
    Route find_route(Exchange& ex, std::string_view path, std::string& allow, RequestRoute& label);

    // Authentication API.
    asio::awaitable<void> partner_token(Exchange& ex);
    asio::awaitable<void> refresh_token(Exchange& ex);
    asio::awaitable<void> user_token(Exchange& ex);
    // File Upload API and its extensions.
    asio::awaitable<void> generate_presigned_urls(Exchange& ex);
    asio::awaitable<void> complete_upload(Exchange& ex);
    asio::awaitable<void> list_parts(Exchange& ex);
    asio::awaitable<void> abort_upload(Exchange& ex);
    asio::awaitable<void> get_file(Exchange& ex);
    asio::awaitable<void> delete_file(Exchange& ex);
    // Webhook subscriptions (partner token).
    asio::awaitable<void> create_webhook(Exchange& ex);
    asio::awaitable<void> list_webhooks(Exchange& ex);
    asio::awaitable<void> get_webhook(Exchange& ex);
    asio::awaitable<void> delete_webhook(Exchange& ex);
    asio::awaitable<void> rotate_webhook_secret(Exchange& ex);
    asio::awaitable<void> ping_webhook(Exchange& ex);
    asio::awaitable<void> webhook_deliveries(Exchange& ex);
    // A webhook route: checks the partner's token, reads the body (`with_body`), runs
    // call(client_id, body) -> Result<json> on a worker and answers `status` with it.
    template <class Call>
    asio::awaitable<void> partner_call(Exchange& ex, unsigned status, bool with_body, Call call);
    // Operations.
    asio::awaitable<void> healthz(Exchange& ex);
    asio::awaitable<void> readyz(Exchange& ex);
    asio::awaitable<void> metrics(Exchange& ex);
    asio::awaitable<void> demo_page(Exchange& ex);

    core::Result<auth::Principal> bearer(const Exchange& ex) const;
    core::Result<upload::Owner> user(const Exchange& ex) const;
    // The client_id of a partner token.
    core::Result<std::string> partner(const Exchange& ex) const;
    // A file route: checks the user's token, reads the body (`with_body`), then runs
    // call(owner, body) -> Result<json> on `pool` and answers what it returns.
    template <class Call>
    asio::awaitable<void> user_call(Exchange& ex, core::WorkerPool& pool, bool with_body,
                                    Call call);
    // The body as text, up to max_json_body_bytes.
    asio::awaitable<core::Result<std::string>> body(Exchange& ex);
    asio::awaitable<void> reply(Exchange& ex, unsigned status, const nlohmann::ordered_json& body);
    asio::awaitable<void> fail(Exchange& ex, const core::Error& error);
    // Sends `answer` with 200, or its error.
    asio::awaitable<void> respond(Exchange& ex, core::Result<nlohmann::ordered_json> answer,
                                  unsigned status = 200);

    auth::AuthService& auth_;
    upload::UploadService& uploads_;
    events::WebhookService& webhooks_;
    Metrics& metrics_;
    ApiPools pools_;
    ApiOptions options_;
};

}  // namespace audiodrop::http
