#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>

namespace audiodrop::core {

Logger make_logger() {
    auto sink = std::make_shared<spdlog::sinks::stderr_sink_mt>();
    auto logger = std::make_shared<spdlog::logger>("audiodrop", sink);
    logger->set_pattern("ts=%Y-%m-%dT%H:%M:%S.%eZ level=%l %v", spdlog::pattern_time_type::utc);
    logger->flush_on(spdlog::level::info);
    return logger;
}

}  // namespace audiodrop::core
