#pragma once

// The one way a probe reads bytes: a ReadAt bounded by the file's size, a byte budget and a
// deadline. libavformat's AVIO callbacks and the direct header reads both go through it, so
// bytes_read and the budget count every byte either of them reads.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "core/error.hpp"
#include "media/audio_probe.hpp"

namespace audiodrop::media {

class ByteSource {
  public:
    using Clock = std::chrono::steady_clock;

    // Why reading stopped for good; once set, every later read fails the same way.
    enum class Stop { none, read_failed, budget_spent, deadline_passed };

    ByteSource(std::uint64_t size, const ReadAt& read, std::uint64_t max_bytes_read,
               Clock::time_point deadline);

    std::uint64_t size() const { return size_; }
    std::uint64_t bytes_read() const { return bytes_read_; }
    std::uint64_t max_bytes_read() const { return max_bytes_read_; }
    Stop stop() const { return stop_; }
    // The ReadAt's error when stop() is read_failed.
    const std::optional<core::Error>& read_error() const { return read_error_; }
    // True once the deadline has passed (also sets stop()).
    bool past_deadline();

    // Up to out.size() bytes at offset, in one ReadAt call; 0 at or past the end (or when
    // the ReadAt ends early); nullopt when reading has stopped (see stop()).
    std::optional<std::size_t> read_some(std::uint64_t offset, std::span<std::uint8_t> out);
    // Up to n bytes at offset, fewer only at the end; nullopt when reading has stopped.
    std::optional<std::vector<std::uint8_t>> read_up_to(std::uint64_t offset, std::size_t n);

  private:
    std::uint64_t size_;
    const ReadAt& read_;
    std::uint64_t max_bytes_read_;
    Clock::time_point deadline_;
    std::uint64_t bytes_read_ = 0;
    Stop stop_ = Stop::none;
    std::optional<core::Error> read_error_;
};

}  // namespace audiodrop::media
