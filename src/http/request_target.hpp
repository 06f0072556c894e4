#pragma once

#include <string_view>

namespace audiodrop::http {

// A request-target split at the first '?': both halves still percent-encoded.
struct RequestTarget {
    std::string_view path;
    std::string_view query;
};

inline RequestTarget split_target(std::string_view target) {
    const auto q = target.find('?');
    if (q == std::string_view::npos) return {target, {}};
    return {target.substr(0, q), target.substr(q + 1)};
}

}  // namespace audiodrop::http
