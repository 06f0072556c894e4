#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "http/http_server.hpp"

namespace audiodrop::http {

// Which web origins may call a listener from a browser: exact origins
// ("https://app.example.com", "http://127.0.0.1:3000") or "*" for any. Tokens travel in
// headers, never cookies, so "*" exposes nothing a page could not send anyway.
class CorsOrigins {
  public:
    // A comma-separated list; invalid_input naming the first entry that is not "*" or a
    // scheme://host[:port] origin. Empty: no origin is allowed.
    static core::Result<CorsOrigins> parse(std::string_view list);

    // Allows `origin` too, a scheme://host[:port] origin such as web_origin() gives.
    void add(std::string_view origin);

    bool empty() const { return !any_ && origins_.empty(); }
    // The Access-Control-Allow-Origin value for a request from `origin`, or nullopt
    // when that origin is not allowed.
    std::optional<std::string> allow(std::string_view origin) const;

  private:
    bool any_ = false;
    std::vector<std::string> origins_;  // lowercase scheme and host, as browsers send them
};

// The origin a browser sends for pages at the absolute http(s) URL `url`: its scheme
// and host, lowercase, with the port only when it is not the scheme's default
// ("HTTP://Example.com:80/developer/api" -> "http://example.com").
std::string web_origin(std::string_view url);

// What a listener lets allowed origins do.
struct CorsRules {
    std::string methods;          // Access-Control-Allow-Methods, e.g. "GET, POST, DELETE"
    std::string request_headers;  // Access-Control-Allow-Headers; empty: those asked for
    std::string exposed_headers;  // Access-Control-Expose-Headers on every answer
    std::chrono::seconds max_age{600};
};

// A listener's handler with CORS in front (Fetch standard, "CORS protocol"): answers
// preflight OPTIONS itself, and adds the Access-Control-* headers to every answer for an
// allowed origin. A request from an origin not allowed gets no CORS header, so the
// browser keeps its answer from the page; its preflight is refused with 403 in the
// listener's format. Requests without Origin pass through untouched.
class CorsHandler final : public Handler {
  public:
    CorsHandler(Handler& inner, CorsOrigins origins, CorsRules rules);

    asio::awaitable<void> handle(Exchange& ex) override;
    StringResponse framing_error(unsigned status, std::string_view code, std::string_view message,
                                 const std::string& request_id) override {
        return inner_.framing_error(status, code, message, request_id);
    }

  private:
    StringResponse preflight(const Exchange& ex, std::string_view origin) const;

    Handler& inner_;
    CorsOrigins origins_;
    CorsRules rules_;
};

}  // namespace audiodrop::http
