#pragma once

// Lenient readers for answer fields: a missing or mistyped field reads as empty/zero, so
// the caller checks what it needs once instead of catching json exceptions.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace audiodrop::client {

inline std::string string_field(const nlohmann::json& doc, std::string_view name) {
    const auto it = doc.find(name);
    return it != doc.end() && it->is_string() ? it->get<std::string>() : std::string{};
}

inline std::int64_t int_field(const nlohmann::json& doc, std::string_view name) {
    const auto it = doc.find(name);
    return it != doc.end() && it->is_number_integer() ? it->get<std::int64_t>() : 0;
}

}  // namespace audiodrop::client
