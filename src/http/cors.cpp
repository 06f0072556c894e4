#include "http/cors.hpp"

#include <algorithm>
#include <cctype>

#include "core/text.hpp"
#include "s3/sigv4.hpp"

namespace audiodrop::http {
namespace {

// scheme://host[:port] with nothing after: what a browser sends as Origin.
bool is_origin(std::string_view o) {
    const auto sep = o.find("://");
    if (sep == std::string_view::npos ||
        (o.substr(0, sep) != "http" && o.substr(0, sep) != "https")) {
        return false;
    }
    const auto host = o.substr(sep + 3);
    if (host.empty() || host.size() > 255) return false;
    return std::all_of(host.begin(), host.end(), [](unsigned char c) {
        return std::isalnum(c) || c == '.' || c == '-' || c == ':' || c == '[' || c == ']';
    });
}

// Header values built from what the client sent: printable ASCII only, bounded.
bool is_token_list(std::string_view s) {
    return s.size() <= 1024 && std::all_of(s.begin(), s.end(), [](unsigned char c) {
               return std::isalnum(c) || c == '-' || c == '_' || c == ',' || c == ' ';
           });
}

}  // namespace

core::Result<CorsOrigins> CorsOrigins::parse(std::string_view list) {
    CorsOrigins out;
    while (!list.empty()) {
        const auto entry = core::next_list_item(list);
        if (entry.empty()) continue;
        if (entry == "*") {
            out.any_ = true;
        } else if (is_origin(entry)) {
            out.add(entry);
        } else {
            return core::make_error(core::ErrorKind::invalid_input, "invalid_origin",
                                    "'" + std::string(entry) +
                                        "' is not an origin: give scheme://host[:port] with "
                                        "no path, e.g. https://app.example.com, or *");
        }
    }
    return out;
}

void CorsOrigins::add(std::string_view origin) {
    auto lower = core::ascii_lowercase(origin);
    if (std::find(origins_.begin(), origins_.end(), lower) == origins_.end()) {
        origins_.push_back(std::move(lower));
    }
}

std::optional<std::string> CorsOrigins::allow(std::string_view origin) const {
    if (any_) return std::string("*");
    const auto wanted = core::ascii_lowercase(origin);
    if (std::find(origins_.begin(), origins_.end(), wanted) != origins_.end()) {
        return std::string(origin);
    }
    return std::nullopt;
}

std::string web_origin(std::string_view url) {
    const auto sep = url.find("://");
    if (sep == std::string_view::npos) return {};
    return core::ascii_lowercase(url.substr(0, sep)) + "://" + s3::signing_host(url);
}

CorsHandler::CorsHandler(Handler& inner, CorsOrigins origins, CorsRules rules)
    : inner_(inner), origins_(std::move(origins)), rules_(std::move(rules)) {}

StringResponse CorsHandler::preflight(const Exchange& ex, std::string_view origin) const {
    const auto allowed = origins_.allow(origin);
    const std::string_view method = ex.request()[bhttp::field::access_control_request_method];
    const bool method_ok = is_token_list(method) && !method.empty() &&
                           rules_.methods.find(std::string(method)) != std::string::npos;
    if (!allowed || !method_ok) {
        const std::string why =
            !allowed ? "origin " + std::string(origin.substr(0, 256)) + " may not call this server"
                     : "method " + std::string(method.substr(0, 32)) + " is not allowed here";
        return inner_.framing_error(403, "cors_not_allowed", why, ex.request_id());
    }
    StringResponse res{bhttp::status::no_content, 11};
    res.set(bhttp::field::access_control_allow_origin, *allowed);
    res.set(bhttp::field::access_control_allow_methods, rules_.methods);
    const std::string_view asked = ex.request()[bhttp::field::access_control_request_headers];
    if (!rules_.request_headers.empty()) {
        res.set(bhttp::field::access_control_allow_headers, rules_.request_headers);
    } else if (!asked.empty() && is_token_list(asked)) {
        res.set(bhttp::field::access_control_allow_headers, asked);
    }
    res.set(bhttp::field::access_control_max_age, std::to_string(rules_.max_age.count()));
    res.set(bhttp::field::vary,
            "Origin, Access-Control-Request-Method, Access-Control-Request-Headers");
    return res;
}

asio::awaitable<void> CorsHandler::handle(Exchange& ex) {
    const std::string origin(ex.request()[bhttp::field::origin]);
    if (origin.empty()) co_return co_await inner_.handle(ex);
    if (ex.request().method() == bhttp::verb::options &&
        ex.request().find(bhttp::field::access_control_request_method) != ex.request().end()) {
        co_await ex.send(preflight(ex, origin));
        co_return;
    }
    if (const auto allowed = origins_.allow(origin)) {
        ex.add_response_header(bhttp::field::access_control_allow_origin, *allowed);
        if (*allowed != "*") ex.add_response_header(bhttp::field::vary, "Origin");
        if (!rules_.exposed_headers.empty()) {
            ex.add_response_header(bhttp::field::access_control_expose_headers,
                                   rules_.exposed_headers);
        }
    }
    co_await inner_.handle(ex);
}

}  // namespace audiodrop::http
