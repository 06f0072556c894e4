#pragma once

#include <string>

#include "core/clock.hpp"

namespace audiodrop::core {

std::string rfc3339(TimePoint t);    // 2026-11-25T22:46:16Z
std::string http_date(TimePoint t);  // Wed, 25 Nov 2026 22:46:16 GMT (RFC 9110)

}  // namespace audiodrop::core
