#include "storage/sealed_upload_id.hpp"

#include "core/ids.hpp"

namespace audiodrop::storage {
namespace {

constexpr std::size_t kRandomBytes = 10;
constexpr std::size_t kMacBytes = 16;
constexpr std::size_t kPayloadBytes = kRandomBytes + 8 + 8;
constexpr std::size_t kSealedChars = ((kPayloadBytes + kMacBytes) * 8 + 4) / 5;

void put_u64(std::string& out, std::uint64_t v) {
    for (int i = 7; i >= 0; --i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

std::uint64_t get_u64(std::string_view in, std::size_t at) {
    std::uint64_t v = 0;
    for (std::size_t i = 0; i < 8; ++i) v = (v << 8) | static_cast<unsigned char>(in[at + i]);
    return v;
}

}  // namespace

UploadIdSealer::UploadIdSealer(std::string_view secret)
    : seal_key_(core::hmac_sha256(secret, "audiodrop local upload ids v1")) {}

std::string UploadIdSealer::mac(std::string_view payload, std::string_view key) const {
    std::string message(payload);
    message += '/';
    message += key;
    const auto full = core::hmac_sha256(seal_key_, message);
    return std::string(reinterpret_cast<const char*>(full.data()), kMacBytes);
}

std::string UploadIdSealer::mint(const UploadRecord& record) const {
    std::string payload = core::random_bytes(kRandomBytes);
    put_u64(payload, record.max_part_size);
    put_u64(payload, static_cast<std::uint64_t>(record.created));
    return std::string(kUploadIdPrefix) + core::base32_encode(payload + mac(payload, record.key));
}

bool UploadIdSealer::looks_sealed(std::string_view upload_id) {
    return upload_id.starts_with(kUploadIdPrefix) &&
           upload_id.size() == kUploadIdPrefix.size() + kSealedChars &&
           core::base32_decode(upload_id.substr(kUploadIdPrefix.size())).has_value();
}

std::optional<UploadRecord> UploadIdSealer::open(std::string_view upload_id,
                                                 std::string_view key) const {
    if (!looks_sealed(upload_id)) return std::nullopt;
    const auto raw = core::base32_decode(upload_id.substr(kUploadIdPrefix.size()));
    if (!raw || raw->size() != kPayloadBytes + kMacBytes) return std::nullopt;
    const std::string_view payload = std::string_view(*raw).substr(0, kPayloadBytes);
    if (!core::constant_time_equal(mac(payload, key),
                                   std::string_view(*raw).substr(kPayloadBytes))) {
        return std::nullopt;
    }
    UploadRecord record;
    record.key = std::string(key);
    record.max_part_size = get_u64(payload, kRandomBytes);
    record.created = static_cast<std::int64_t>(get_u64(payload, kRandomBytes + 8));
    return record;
}

}  // namespace audiodrop::storage
