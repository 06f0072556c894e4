#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "core/error.hpp"
#include "http/exchange.hpp"

namespace audiodrop::http {

// The API's one table from error kinds to HTTP statuses (DESIGN §2 "Errors").
unsigned api_status(core::ErrorKind kind);

// What a client is told of `error`: its message, except for failures of the server or
// its stores, whose messages name files, hosts and database users. Those are told in a
// fixed sentence; the request log keeps the real one under the request id.
std::string public_message(const core::Error& error);
bool message_withheld(const core::Error& error);

// {"error":{"code","message"},"request_id"} with the status of its kind, plus
// Retry-After when the error says how long to wait.
StringResponse api_error(const core::Error& error, const std::string& request_id);
StringResponse api_json(unsigned status, const nlohmann::ordered_json& body);
// The same for a body encoded already (by encode_json).
StringResponse api_json_text(unsigned status, std::string body);
std::string encode_json(const nlohmann::ordered_json& body);

}  // namespace audiodrop::http
