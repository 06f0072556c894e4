#pragma once

#include <spdlog/logger.h>

#include <memory>

namespace audiodrop::core {

// One logger for the process, created in main and passed down: no global registry.
using Logger = std::shared_ptr<spdlog::logger>;

// Writes one logfmt line per event to stderr: "ts=... level=info key=value ...".
Logger make_logger();

}  // namespace audiodrop::core
