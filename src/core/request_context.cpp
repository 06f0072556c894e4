#include "core/request_context.hpp"

#include <utility>

namespace audiodrop::core {
namespace {

thread_local std::string current;

}  // namespace

const std::string& current_request_id() { return current; }

RequestScope::RequestScope(std::string_view request_id)
    : previous_(std::exchange(current, std::string(request_id))) {}

RequestScope::~RequestScope() { current = std::move(previous_); }

}  // namespace audiodrop::core
