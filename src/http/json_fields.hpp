#pragma once

// Reading request fields out of a parsed JSON body with one clear error per mistake,
// so handlers stay a list of fields.

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "upload/completion_check.hpp"

namespace audiodrop::http {

// The body must be a JSON object: invalid_input "invalid_json" otherwise.
core::Result<nlohmann::json> parse_json_object(std::string_view body);

core::Result<std::string> required_string(const nlohmann::json& obj, const char* name);
core::Result<std::optional<std::string>> optional_string(const nlohmann::json& obj,
                                                         const char* name);
// A positive integer; JSON numbers with a fraction and strings are refused. `code`
// names the error (e.g. "invalid_filesize").
core::Result<std::uint64_t> required_positive_integer(const nlohmann::json& obj, const char* name,
                                                      const char* code);
core::Result<std::optional<std::int64_t>> optional_integer(const nlohmann::json& obj,
                                                           const char* name, const char* code);
// An array of strings; invalid_input `code` otherwise.
core::Result<std::vector<std::string>> required_string_array(const nlohmann::json& obj,
                                                             const char* name, const char* code);
// part_list: an array of {"PartNumber": int, "ETag": string}.
core::Result<std::vector<upload::RequestedPart>> part_list(const nlohmann::json& obj);

}  // namespace audiodrop::http
