#include "http/json_fields.hpp"

namespace audiodrop::http {
namespace {

using core::ErrorKind;
using core::make_error;

// JSON integers arrive as int64 or, when positive, uint64: those past INT64_MAX would
// wrap in get<int64_t>().
bool fits_int64(const nlohmann::json& v) {
    if (v.is_number_unsigned()) return v.get<std::uint64_t>() <= INT64_MAX;
    return v.is_number_integer();
}

core::Error invalid(const std::string& message) {
    return make_error(ErrorKind::invalid_input, "invalid_request", message);
}

// The deepest request body is part_list's three levels. The limit stops amplification:
// the parser builds a value per bracket, so a megabyte of "[[[[" would take hundreds
// of MiB.
constexpr int kMaxJsonDepth = 16;

bool nested_too_deep(std::string_view text) {
    int depth = 0;
    bool in_string = false;
    bool escaped = false;
    for (const char c : text) {
        if (in_string) {
            if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            if (++depth > kMaxJsonDepth) return true;
        } else if (c == ']' || c == '}') {
            --depth;
        }
    }
    return false;
}

}  // namespace

core::Result<nlohmann::json> parse_json_object(std::string_view body) {
    if (nested_too_deep(body)) {
        return make_error(
            ErrorKind::invalid_input, "invalid_json",
            "the request body nests deeper than " + std::to_string(kMaxJsonDepth) + " levels");
    }
    auto json = nlohmann::json::parse(body, nullptr, false);
    if (json.is_discarded() || !json.is_object()) {
        return make_error(ErrorKind::invalid_input, "invalid_json",
                          "the request body must be a JSON object");
    }
    return json;
}

core::Result<std::string> required_string(const nlohmann::json& obj, const char* name) {
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return invalid(std::string(name) + " is required");
    if (!it->is_string()) return invalid(std::string(name) + " must be a string");
    return it->get<std::string>();
}

core::Result<std::optional<std::string>> optional_string(const nlohmann::json& obj,
                                                         const char* name) {
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<std::string>{};
    if (!it->is_string()) return invalid(std::string(name) + " must be a string");
    return std::optional<std::string>{it->get<std::string>()};
}

core::Result<std::uint64_t> required_positive_integer(const nlohmann::json& obj, const char* name,
                                                      const char* code) {
    const auto it = obj.find(name);
    const std::string must = std::string(name) + " must be a positive integer";
    if (it == obj.end() || it->is_null()) {
        return make_error(ErrorKind::invalid_input, code, std::string(name) + " is required");
    }
    if (it->is_number_unsigned() && it->get<std::uint64_t>() > 0) return it->get<std::uint64_t>();
    return make_error(ErrorKind::invalid_input, code, must);
}

core::Result<std::optional<std::int64_t>> optional_integer(const nlohmann::json& obj,
                                                           const char* name, const char* code) {
    const auto it = obj.find(name);
    if (it == obj.end() || it->is_null()) return std::optional<std::int64_t>{};
    if (fits_int64(*it)) return std::optional<std::int64_t>{it->get<std::int64_t>()};
    return make_error(ErrorKind::invalid_input, code, std::string(name) + " must be an integer");
}

core::Result<std::vector<std::string>> required_string_array(const nlohmann::json& obj,
                                                             const char* name, const char* code) {
    const auto it = obj.find(name);
    const auto bad = [&] {
        return make_error(ErrorKind::invalid_input, code,
                          std::string(name) + " must be an array of strings");
    };
    if (it == obj.end() || !it->is_array()) return bad();
    std::vector<std::string> out;
    for (const auto& entry : *it) {
        if (!entry.is_string()) return bad();
        out.push_back(entry.get<std::string>());
    }
    return out;
}

core::Result<std::vector<upload::RequestedPart>> part_list(const nlohmann::json& obj) {
    const auto bad = [](const std::string& m) {
        return make_error(ErrorKind::invalid_input, "invalid_part_list", m);
    };
    const auto it = obj.find("part_list");
    if (it == obj.end() || !it->is_array() || it->empty()) {
        return bad("part_list must be a non-empty array of {\"PartNumber\",\"ETag\"}");
    }
    std::vector<upload::RequestedPart> parts;
    parts.reserve(it->size());
    for (const auto& entry : *it) {
        if (!entry.is_object()) return bad("each part_list entry must be an object");
        const auto number = entry.find("PartNumber");
        const auto etag = entry.find("ETag");
        if (number == entry.end() || !fits_int64(*number)) {
            return bad("each part_list entry needs an integer PartNumber");
        }
        if (etag == entry.end() || !etag->is_string()) {
            return bad("each part_list entry needs a string ETag");
        }
        parts.push_back({number->get<std::int64_t>(), etag->get<std::string>()});
    }
    return parts;
}

}  // namespace audiodrop::http
