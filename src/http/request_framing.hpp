#pragma once

// Whether a request's header frames its body in the one way this server reads bodies
// (Content-Length, or chunked alone). Anything else is refused before a byte of the
// body is read, because two parsers that disagree on where a body ends are how
// requests get smuggled past a proxy (RFC 9112 §6.1, §6.3).

#include <optional>
#include <string>
#include <string_view>

#include "http/exchange.hpp"

namespace audiodrop::http {

struct FramingProblem {
    unsigned status;  // 400, or 501 for a transfer coding we do not implement
    std::string_view code;
    std::string message;
};

std::optional<FramingProblem> framing_problem(const RequestHeader& header);

}  // namespace audiodrop::http
