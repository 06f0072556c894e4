#pragma once

#include <cstdint>
#include <string_view>

namespace audiodrop::http {

// What a Range header asks of an object of a known size (RFC 9110 §14.1.2), as S3
// answers it: one range is served as 206; a header that does not parse, or asks for
// several ranges, is ignored (200 with the whole object); a range that starts past
// the end is 416.
struct RangeRequest {
    enum class Kind { whole, partial, unsatisfiable };
    Kind kind = Kind::whole;
    std::uint64_t first = 0;
    std::uint64_t last = 0;  // inclusive
};

RangeRequest parse_range(std::string_view header, std::uint64_t size);

}  // namespace audiodrop::http
