#pragma once

// A request's id (X-Request-Id): answered in every response and error body, logged
// with the request, sent on the S3 calls made for it and on the webhook deliveries of
// the event it causes. A proxy or client in front of us that already names the request
// keeps its name, so one id finds the request in every log it passed through.

#include <boost/beast/http/fields.hpp>
#include <cstddef>
#include <string>
#include <string_view>

namespace audiodrop::http {

inline constexpr std::size_t kMaxRequestIdLength = 128;

// 1 to kMaxRequestIdLength characters, each a letter, a digit or one of `.`, `_`, `:`,
// `-`: enough for UUIDs, ULIDs and the ids of common proxies, and nothing that could
// split a header, a log line or a JSON string.
bool well_formed_request_id(std::string_view id);

// The request's one X-Request-Id when it is well-formed; otherwise (none, several,
// empty, too long, other characters) a new "req_" id. Never refuses a request.
std::string request_id_of(const boost::beast::http::fields& header);

}  // namespace audiodrop::http
