#include "core/time_format.hpp"

#include <ctime>

namespace audiodrop::core {
namespace {

std::string format_utc(TimePoint t, const char* format) {
    const std::time_t secs = static_cast<std::time_t>(to_unix(t));
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char buf[64];
    const auto n = std::strftime(buf, sizeof buf, format, &tm);
    return std::string(buf, n);
}

}  // namespace

std::string rfc3339(TimePoint t) { return format_utc(t, "%Y-%m-%dT%H:%M:%SZ"); }

// strftime's %a and %b follow the C locale, which the server never changes.
std::string http_date(TimePoint t) { return format_utc(t, "%a, %d %b %Y %H:%M:%S GMT"); }

}  // namespace audiodrop::core
