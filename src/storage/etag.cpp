#include "storage/etag.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "core/hashing.hpp"

namespace audiodrop::storage {
namespace {

bool append_hex_bytes(std::string_view hex, std::string& out) {
    if (hex.size() % 2 != 0) return false;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        unsigned value = 0;
        auto [ptr, ec] = std::from_chars(hex.data() + i, hex.data() + i + 2, value, 16);
        if (ec != std::errc() || ptr != hex.data() + i + 2) return false;
        out.push_back(static_cast<char>(value));
    }
    return true;
}

}  // namespace

std::string normalise_etag(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    std::string out(etag);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    return out;
}

std::string multipart_etag(const std::vector<PartRef>& parts) {
    std::string digests;
    digests.reserve(parts.size() * 16);
    for (const auto& p : parts) {
        if (!append_hex_bytes(p.etag, digests)) return {};
    }
    return core::to_hex(core::md5(digests)) + "-" + std::to_string(parts.size());
}

}  // namespace audiodrop::storage
