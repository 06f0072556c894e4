#pragma once

// What the libFuzzer targets share: reading an input as text split into fields, and
// checking a property (a failed check aborts, which libFuzzer reports as a crash and
// saves the input that caused it).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>

#include "core/clock.hpp"

namespace audiodrop::fuzz {

// The one "now" of every target, so a run is reproducible: 2026-12-01T12:00:00Z.
inline const core::TimePoint kNow = core::from_unix(1796126400);

inline std::string_view as_text(const std::uint8_t* data, std::size_t size) {
    return {reinterpret_cast<const char*>(data), size};
}

// The text up to the next NUL (or the end), removed from `rest`.
inline std::string_view next_field(std::string_view& rest) {
    const auto end = rest.find('\0');
    const auto field = rest.substr(0, end);
    rest = end == std::string_view::npos ? std::string_view() : rest.substr(end + 1);
    return field;
}

// The first byte of `rest`, removed from it; 0 when there is none.
inline std::uint8_t next_byte(std::string_view& rest) {
    if (rest.empty()) return 0;
    const auto b = static_cast<std::uint8_t>(rest.front());
    rest.remove_prefix(1);
    return b;
}

inline void check(bool holds, const char* property) {
    if (holds) return;
    std::fprintf(stderr, "property violated: %s\n", property);
    std::abort();
}

}  // namespace audiodrop::fuzz
