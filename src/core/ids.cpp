#include "core/ids.hpp"

#include <chrono>
#include <cstdint>

#include "core/hashing.hpp"

namespace audiodrop::core {
namespace {
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t kTimeBytes = 6;
constexpr std::size_t kRandomBytes = 10;
constexpr std::size_t kEncodedLength = 26;  // ceil(128 / 5)
}  // namespace

std::string base32_encode(std::string_view bytes) {
    std::string out;
    out.reserve((bytes.size() * 8 + 4) / 5);
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : bytes) {
        buffer = (buffer << 8) | c;
        bits += 8;
        while (bits >= 5) {
            out.push_back(kAlphabet[(buffer >> (bits - 5)) & 31]);
            bits -= 5;
        }
    }
    if (bits > 0) out.push_back(kAlphabet[(buffer << (5 - bits)) & 31]);
    return out;
}

std::optional<std::string> base32_decode(std::string_view text) {
    std::string out;
    out.reserve(text.size() * 5 / 8);
    unsigned buffer = 0;
    int bits = 0;
    for (char c : text) {
        const auto value = kAlphabet.find(c);
        if (value == std::string_view::npos) return std::nullopt;
        buffer = (buffer << 5) | static_cast<unsigned>(value);
        bits += 5;
        if (bits >= 8) {
            out.push_back(static_cast<char>((buffer >> (bits - 8)) & 0xff));
            bits -= 8;
        }
    }
    // Leftover bits are padding: fewer than a byte's worth, and all zero.
    if (bits >= 5 || (buffer & ((1u << bits) - 1)) != 0) return std::nullopt;
    return out;
}

std::string new_id(std::string_view prefix) {
    const auto ms =
        static_cast<std::uint64_t>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                       std::chrono::system_clock::now().time_since_epoch())
                                       .count());
    std::string raw;
    raw.reserve(kTimeBytes + kRandomBytes);
    for (std::size_t i = kTimeBytes; i-- > 0;)
        raw.push_back(static_cast<char>((ms >> (8 * i)) & 0xff));
    return std::string(prefix) + base32_encode(raw + random_bytes(kRandomBytes));
}

bool looks_like_id(std::string_view id, std::string_view prefix) {
    if (!id.starts_with(prefix) || id.size() != prefix.size() + kEncodedLength) return false;
    for (char c : id.substr(prefix.size())) {
        if (kAlphabet.find(c) == std::string_view::npos) return false;
    }
    return true;
}

}  // namespace audiodrop::core
