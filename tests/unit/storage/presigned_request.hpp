#pragma once

#include <string>

#include "s3/sigv4.hpp"

namespace audiodrop::storage::test_support {

// Splits "http://host:port/path?query" the way a server sees the request.
inline s3::ReceivedRequest as_received(const std::string& method, const std::string& url) {
    const std::string rest = url.substr(url.find("://") + 3);
    const auto slash = rest.find('/');
    const auto question = rest.find('?');
    return s3::ReceivedRequest{method, rest.substr(0, slash), rest.substr(slash, question - slash),
                               rest.substr(question + 1)};
}

}  // namespace audiodrop::storage::test_support
