#pragma once

#include <spdlog/logger.h>

#include <cstdint>
#include <cstdio>
#include <initializer_list>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>

namespace audiodrop::core {

enum class LogFormat { text, json };

// One field of a log event: a key and its value, rendered as text or JSON.
struct LogField {
    LogField(std::string_view k, std::string_view v) : key(k), value(v), quoted(true) {}
    LogField(std::string_view k, const std::string& v) : key(k), value(v), quoted(true) {}
    LogField(std::string_view k, const char* v) : key(k), value(v), quoted(true) {}
    template <class Number>
    requires std::is_arithmetic_v<Number> LogField(std::string_view k, Number v)
        : key(k), value(format_number(v)), quoted(false) {}

    std::string_view key;
    std::string value;
    bool quoted;

  private:
    template <class Number>
    static std::string format_number(Number v) {
        if constexpr (std::is_floating_point_v<Number>) {
            char buf[32];
            std::snprintf(buf, sizeof buf, "%.3f", static_cast<double>(v));
            return buf;
        } else {
            return std::to_string(v);
        }
    }
};

// Structured events, one line each on stderr: logfmt ("ts=... level=info key=value")
// or one JSON object per line. Created once in main and passed down; thread-safe.
// A background thread writes the lines (BufferedStderrSink), so logging never blocks a
// network thread on a slow stderr. Destroying the Log writes out what is pending.
class Log {
  public:
    explicit Log(LogFormat format);
    ~Log();
    Log(const Log&) = delete;
    Log& operator=(const Log&) = delete;

    void info(std::initializer_list<LogField> fields) const;
    void warn(std::initializer_list<LogField> fields) const;
    void error(std::initializer_list<LogField> fields) const;
    // For events whose fields are chosen at run time.
    void info(std::span<const LogField> fields) const;
    void warn(std::span<const LogField> fields) const;

  private:
    void write(spdlog::level::level_enum level, std::span<const LogField> fields) const;

    LogFormat format_;
    std::shared_ptr<spdlog::logger> logger_;
};

using Logger = std::shared_ptr<const Log>;

}  // namespace audiodrop::core
