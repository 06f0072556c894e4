#include "media/byte_source.hpp"

#include <algorithm>
#include <exception>
#include <string>

namespace audiodrop::media {

ByteSource::ByteSource(std::uint64_t size, const ReadAt& read, std::uint64_t max_bytes_read,
                       Clock::time_point deadline)
    : size_(size), read_(read), max_bytes_read_(max_bytes_read), deadline_(deadline) {}

bool ByteSource::past_deadline() {
    if (stop_ == Stop::deadline_passed) return true;
    if (Clock::now() < deadline_) return false;
    if (stop_ == Stop::none) stop_ = Stop::deadline_passed;
    return true;
}

std::optional<std::size_t> ByteSource::read_some(std::uint64_t offset,
                                                 std::span<std::uint8_t> out) {
    if (stop_ != Stop::none || past_deadline()) return std::nullopt;
    if (offset >= size_ || out.empty()) return 0;
    const std::uint64_t budget = max_bytes_read_ - bytes_read_;
    if (budget == 0) {
        stop_ = Stop::budget_spent;
        return std::nullopt;
    }
    const auto n = static_cast<std::size_t>(
        std::min<std::uint64_t>({static_cast<std::uint64_t>(out.size()), size_ - offset, budget}));
    core::Result<std::size_t> got = std::size_t{0};
    try {
        got = read_(offset, out.first(n));
    } catch (const std::exception& e) {
        got = core::make_error(core::ErrorKind::internal, "read_failed",
                               std::string("reading threw: ") + e.what());
    } catch (...) {
        got = core::make_error(core::ErrorKind::internal, "read_failed",
                               "reading threw an exception that is not a std::exception");
    }
    if (got && *got > n) {
        got = core::make_error(core::ErrorKind::internal, "read_failed",
                               "a read returned more bytes than were asked for");
    }
    if (!got) {
        stop_ = Stop::read_failed;
        read_error_ = got.error();
        return std::nullopt;
    }
    bytes_read_ += *got;
    return *got;
}

std::optional<std::vector<std::uint8_t>> ByteSource::read_up_to(std::uint64_t offset,
                                                                std::size_t n) {
    std::vector<std::uint8_t> bytes(n);
    std::size_t filled = 0;
    while (filled < n) {
        const auto got = read_some(offset + filled, std::span(bytes).subspan(filled));
        if (!got) return std::nullopt;
        if (*got == 0) break;
        filled += *got;
    }
    bytes.resize(filled);
    return bytes;
}

}  // namespace audiodrop::media
