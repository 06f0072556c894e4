#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "auth/auth_service.hpp"
#include "http/http_server.hpp"
#include "http/metrics.hpp"
#include "upload/upload_service.hpp"

namespace audiodrop::http {

struct ApiOptions {
    std::string base_path = "/developer/api";
    std::size_t max_json_body_bytes = 1024 * 1024;
};

// The API listener: routes each request to one service call and encodes its answer
// as JSON (DESIGN §2). Knows HTTP and JSON, nothing about storage.
class ApiHandler final : public Handler {
  public:
    ApiHandler(auth::AuthService& auth, upload::UploadService& uploads, Metrics& metrics,
               ApiOptions options);

    asio::awaitable<void> handle(Exchange& ex) override;
    StringResponse framing_error(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& request_id) override;

  private:
    using Route = asio::awaitable<void> (ApiHandler::*)(Exchange&);
    Route find_route(Exchange& ex, std::string_view path, std::string& allow);

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
    // Operations.
    asio::awaitable<void> healthz(Exchange& ex);
    asio::awaitable<void> readyz(Exchange& ex);
    asio::awaitable<void> metrics(Exchange& ex);

    core::Result<auth::Principal> bearer(const Exchange& ex) const;
    core::Result<upload::Owner> user(const Exchange& ex) const;
    asio::awaitable<core::Result<nlohmann::json>> json_body(Exchange& ex);
    asio::awaitable<void> reply(Exchange& ex, unsigned status, const nlohmann::ordered_json& body);
    asio::awaitable<void> fail(Exchange& ex, const core::Error& error);
    // Sends `answer` with 200, or its error.
    asio::awaitable<void> respond(Exchange& ex, core::Result<nlohmann::ordered_json> answer);

    auth::AuthService& auth_;
    upload::UploadService& uploads_;
    Metrics& metrics_;
    ApiOptions options_;
};

}  // namespace audiodrop::http
