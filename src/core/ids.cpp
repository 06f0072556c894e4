#include "core/ids.hpp"

#include "core/hashing.hpp"

namespace audiodrop::core {
namespace {
constexpr std::string_view kAlphabet = "abcdefghijklmnopqrstuvwxyz234567";
constexpr std::size_t kRandomBytes = 16;
constexpr std::size_t kEncodedLength = 26;  // ceil(128 / 5)
}  // namespace

std::string new_id(std::string_view prefix) {
    const std::string raw = random_bytes(kRandomBytes);
    std::string out(prefix);
    unsigned buffer = 0;
    int bits = 0;
    for (unsigned char c : raw) {
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

bool looks_like_id(std::string_view id, std::string_view prefix) {
    if (!id.starts_with(prefix) || id.size() != prefix.size() + kEncodedLength) return false;
    for (char c : id.substr(prefix.size())) {
        if (kAlphabet.find(c) == std::string_view::npos) return false;
    }
    return true;
}

}  // namespace audiodrop::core
