#include "api_call.hpp"

#include <cctype>

#include "retry.hpp"

namespace audiodrop::client {

using nlohmann::json;

namespace {

std::string xml_element(std::string_view xml, std::string_view name) {
    const std::string open = "<" + std::string(name) + ">";
    const std::string close = "</" + std::string(name) + ">";
    const auto start = xml.find(open);
    if (start == std::string_view::npos) return {};
    const auto end = xml.find(close, start + open.size());
    if (end == std::string_view::npos) return {};
    return std::string(xml.substr(start + open.size(), end - start - open.size()));
}

}  // namespace

Error error_from_response(const HttpResponse& response) {
    Error e{ErrorKind::http, static_cast<int>(response.status), {}, {}};
    const auto doc = json::parse(response.body, nullptr, false);
    if (!doc.is_discarded() && doc.is_object() && doc.contains("error") &&
        doc["error"].is_object()) {
        const auto& err = doc["error"];
        if (err.contains("code") && err["code"].is_string())
            e.code = err["code"].get<std::string>();
        if (err.contains("message") && err["message"].is_string()) {
            e.message = err["message"].get<std::string>();
        }
    } else if (response.body.find("<Error>") != std::string::npos) {
        e.code = xml_element(response.body, "Code");
        e.message = xml_element(response.body, "Message");
    }
    if (e.message.empty()) {
        e.message = response.body.empty() ? "no details" : response.body.substr(0, 200);
    }
    e.message = "HTTP " + std::to_string(response.status) + (e.code.empty() ? "" : " " + e.code) +
                ": " + e.message;
    return e;
}

Result<json> call_api(ApiContext& ctx, std::string method, std::string_view path,
                      std::vector<std::string> headers, std::string body) {
    HttpRequest request;
    request.method = std::move(method);
    request.url = ctx.options.endpoint + std::string(path);
    request.headers = std::move(headers);
    request.headers.emplace_back("Accept: application/json");
    request.body = body;
    request.cancel = ctx.cancel;
    auto response =
        perform_with_retry(ctx.session, request, ctx.options.retry, ctx.rng, ctx.cancel);
    if (!response) return response.error();
    if (response->status < 200 || response->status >= 300) return error_from_response(*response);
    auto doc = json::parse(response->body, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) {
        return Error{
            ErrorKind::http, static_cast<int>(response->status), "bad_response",
            request.method + " " + std::string(path) + ": the answer is not a JSON object"};
    }
    return doc;
}

std::string bearer(std::string_view token) { return "Authorization: Bearer " + std::string(token); }

std::string url_encode(std::string_view text) {
    static constexpr char kHex[] = "0123456789ABCDEF";
    std::string out;
    for (const unsigned char c : text) {
        if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~') {
            out.push_back(static_cast<char>(c));
        } else {
            out.push_back('%');
            out.push_back(kHex[c >> 4]);
            out.push_back(kHex[c & 15]);
        }
    }
    return out;
}

}  // namespace audiodrop::client
