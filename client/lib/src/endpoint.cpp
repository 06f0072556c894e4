// From the address a user gives to the base URL every API call is made under.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <boost/algorithm/string/case_conv.hpp>
#include <cstring>
#include <string>

#include "audiodrop/client.hpp"

namespace audiodrop::client {
namespace {

Error bad_endpoint(std::string_view endpoint, const std::string& why) {
    return Error{ErrorKind::usage, 0, "invalid_endpoint",
                 "endpoint '" + std::string(endpoint) + "' " + why};
}

// "127.0.0.1:8080", "[::1]:8080", "localhost:8080": the host is this machine.
bool is_loopback(std::string_view authority) {
    std::string host;
    if (authority.starts_with('[')) {
        const auto close = authority.find(']');
        if (close == std::string_view::npos) return false;
        host = authority.substr(1, close - 1);
        in6_addr v6{};
        return ::inet_pton(AF_INET6, host.c_str(), &v6) == 1 &&
               std::memcmp(&v6, &in6addr_loopback, sizeof v6) == 0;
    }
    host = authority.substr(0, authority.find(':'));
    if (host == "localhost") return true;
    in_addr v4{};
    return ::inet_pton(AF_INET, host.c_str(), &v4) == 1 && (ntohl(v4.s_addr) >> 24) == 127;
}

}  // namespace

Result<std::string> api_base_url(std::string_view endpoint) {
    std::string url(endpoint);
    auto scheme_end = url.find("://");
    if (scheme_end == std::string::npos) {
        // The server's ready line names its listener as host:port. Plain HTTP is what a
        // local server speaks and nothing leaves the machine; anywhere else the scheme
        // decides whether tokens travel encrypted, so the user must say which.
        if (!is_loopback(url.substr(0, url.find('/')))) {
            return bad_endpoint(endpoint, "needs http:// or https:// in front");
        }
        url = "http://" + url;
        scheme_end = 4;
    }
    const std::string scheme = boost::algorithm::to_lower_copy(url.substr(0, scheme_end));
    if (scheme != "http" && scheme != "https") {
        return bad_endpoint(endpoint, "must start with http:// or https://");
    }
    url.replace(0, scheme_end, scheme);
    if (url.find_first_of("?#") != std::string::npos) {
        return bad_endpoint(endpoint, "must not have a query or fragment");
    }
    const auto host_start = scheme_end + 3;
    if (url.size() <= host_start || url[host_start] == '/') {
        return bad_endpoint(endpoint, "has no host");
    }
    while (url.ends_with('/')) url.pop_back();
    if (url.find('/', host_start) == std::string::npos) url += kDefaultBasePath;
    return url;
}

}  // namespace audiodrop::client
