#include "http/byte_range.hpp"

#include <charconv>
#include <optional>

namespace audiodrop::http {
namespace {

std::optional<std::uint64_t> number(std::string_view s) {
    std::uint64_t v = 0;
    if (s.empty()) return std::nullopt;
    auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec != std::errc{} || end != s.data() + s.size()) return std::nullopt;
    return v;
}

}  // namespace

RangeRequest parse_range(std::string_view header, std::uint64_t size) {
    using Kind = RangeRequest::Kind;
    constexpr std::string_view kUnit = "bytes=";
    if (!header.starts_with(kUnit)) return {};
    const auto spec = header.substr(kUnit.size());
    if (spec.find(',') != std::string_view::npos) return {};
    const auto dash = spec.find('-');
    if (dash == std::string_view::npos) return {};
    const auto first_text = spec.substr(0, dash);
    const auto last_text = spec.substr(dash + 1);
    if (first_text.empty()) {  // suffix: the last N bytes
        const auto n = number(last_text);
        if (!n) return {};
        if (*n == 0 || size == 0) return {Kind::unsatisfiable, 0, 0};
        return {Kind::partial, *n >= size ? 0 : size - *n, size - 1};
    }
    const auto first = number(first_text);
    if (!first) return {};
    std::uint64_t last = size == 0 ? 0 : size - 1;
    if (!last_text.empty()) {
        const auto l = number(last_text);
        if (!l || *l < *first) return {};
        last = std::min(*l, last);
    }
    if (*first >= size) return {Kind::unsatisfiable, 0, 0};
    return {Kind::partial, *first, last};
}

}  // namespace audiodrop::http
