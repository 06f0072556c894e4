#include "core/log.hpp"

#include <nlohmann/json.hpp>

#include "core/buffered_stderr_sink.hpp"

namespace audiodrop::core {
namespace {

bool needs_quotes(std::string_view v) {
    if (v.empty()) return true;
    for (char c : v) {
        if (c == ' ' || c == '"' || c == '=' || c == '\\' || static_cast<unsigned char>(c) < 0x20) {
            return true;
        }
    }
    return false;
}

std::string logfmt(std::span<const LogField> fields) {
    std::string out;
    for (const auto& f : fields) {
        if (!out.empty()) out += ' ';
        out += f.key;
        out += '=';
        if (f.quoted && needs_quotes(f.value)) {
            out += nlohmann::json(f.value).dump(-1, ' ', false,
                                                nlohmann::json::error_handler_t::replace);
        } else {
            out += f.value;
        }
    }
    return out;
}

std::string json_members(std::span<const LogField> fields) {
    std::string out;
    for (const auto& f : fields) {
        out += ",\"";
        out += f.key;
        out += "\":";
        out += f.quoted ? nlohmann::json(f.value).dump(-1, ' ', false,
                                                       nlohmann::json::error_handler_t::replace)
                        : f.value;
    }
    return out;
}

}  // namespace

Log::Log(LogFormat format)
    : format_(format),
      logger_(
          std::make_shared<spdlog::logger>("audiodrop", std::make_shared<BufferedStderrSink>())) {
    logger_->set_pattern(format == LogFormat::json
                             ? R"({"ts":"%Y-%m-%dT%H:%M:%S.%eZ","level":"%l"%v})"
                             : "ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v",
                         spdlog::pattern_time_type::utc);
}

Log::~Log() { logger_->flush(); }

void Log::write(spdlog::level::level_enum level, std::span<const LogField> fields) const {
    logger_->log(level, format_ == LogFormat::json ? json_members(fields) : logfmt(fields));
}

void Log::info(std::initializer_list<LogField> fields) const { write(spdlog::level::info, fields); }
void Log::warn(std::initializer_list<LogField> fields) const { write(spdlog::level::warn, fields); }
void Log::error(std::initializer_list<LogField> fields) const { write(spdlog::level::err, fields); }
void Log::info(std::span<const LogField> fields) const { write(spdlog::level::info, fields); }
void Log::warn(std::span<const LogField> fields) const { write(spdlog::level::warn, fields); }

}  // namespace audiodrop::core
