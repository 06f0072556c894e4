#include "http/request_id.hpp"

#include <algorithm>

#include "core/ids.hpp"

namespace audiodrop::http {
namespace {

bool allowed(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == ':' || c == '-';
}

}  // namespace

bool well_formed_request_id(std::string_view id) {
    return !id.empty() && id.size() <= kMaxRequestIdLength &&
           std::all_of(id.begin(), id.end(), allowed);
}

std::string request_id_of(const boost::beast::http::fields& header) {
    // Two ids would leave it to us to pick one: neither is taken.
    if (header.count("X-Request-Id") == 1) {
        const std::string_view given = header.find("X-Request-Id")->value();
        if (well_formed_request_id(given)) return std::string(given);
    }
    return core::new_id("req_");
}

}  // namespace audiodrop::http
