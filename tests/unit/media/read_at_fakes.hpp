#pragma once

// ReadAt functions over bytes the tests make, shared by the media tests.

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>
#include <vector>

#include "media/audio_probe.hpp"

namespace audiodrop::media::test {

inline std::vector<std::uint8_t> bytes_of(std::string_view text) {
    return {text.begin(), text.end()};
}

// Reads `bytes`, which must outlive the ReadAt.
inline ReadAt read_memory(const std::vector<std::uint8_t>& bytes) {
    return
        [&bytes](std::uint64_t offset, std::span<std::uint8_t> out) -> core::Result<std::size_t> {
            if (offset >= bytes.size()) return std::size_t{0};
            const auto n = std::min<std::size_t>(out.size(), bytes.size() - offset);
            std::memcpy(out.data(), bytes.data() + offset, n);
            return n;
        };
}

}  // namespace audiodrop::media::test
