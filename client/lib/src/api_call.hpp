#pragma once

// One JSON API call with retries, and the mapping of error answers (API JSON or S3 XML)
// to client::Error.

#include <atomic>
#include <nlohmann/json.hpp>
#include <random>
#include <string>
#include <string_view>
#include <vector>

#include "audiodrop/client.hpp"
#include "http_session.hpp"

namespace audiodrop::client {

struct ApiContext {
    const ClientOptions& options;
    HttpSession& session;
    std::mt19937_64& rng;
    const std::atomic<bool>* cancel = nullptr;
};

// An ErrorKind::http error carrying the server's own code and message.
Error error_from_response(const HttpResponse& response);

// `path` is relative to the endpoint ("/open/partner/..."); a 2xx answer must be a JSON
// object, anything else is an error.
Result<nlohmann::json> call_api(ApiContext& ctx, std::string method, std::string_view path,
                                std::vector<std::string> headers, std::string body = {});

std::string bearer(std::string_view token);
std::string url_encode(std::string_view text);

}  // namespace audiodrop::client
