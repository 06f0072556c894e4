#include "core/hashing.hpp"

// MD5_CTX: see Md5 below.
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/md5.h>
#include <openssl/rand.h>

#include <stdexcept>

namespace audiodrop::core {
namespace {

struct MdCtxDeleter {
    void operator()(EVP_MD_CTX* c) const { EVP_MD_CTX_free(c); }
};
using MdCtx = std::unique_ptr<EVP_MD_CTX, MdCtxDeleter>;

MdCtx new_digest(const EVP_MD* md) {
    MdCtx ctx{EVP_MD_CTX_new()};
    if (!ctx || EVP_DigestInit_ex(ctx.get(), md, nullptr) != 1) {
        throw std::runtime_error("OpenSSL digest init failed");
    }
    return ctx;
}

template <std::size_t N>
std::array<std::uint8_t, N> finish_digest(EVP_MD_CTX* ctx) {
    std::array<std::uint8_t, N> out{};
    unsigned int len = 0;
    EVP_DigestFinal_ex(ctx, out.data(), &len);
    return out;
}

// The low-level MD5 API is deprecated in OpenSSL 3 in favour of EVP, but EVP keeps the
// running state out of reach, and a whole-file MD5 that survives restarts needs it.
MD5_CTX& md5_ctx(std::array<std::byte, 96>& raw) { return *reinterpret_cast<MD5_CTX*>(raw.data()); }
const MD5_CTX& md5_ctx(const std::array<std::byte, 96>& raw) {
    return *reinterpret_cast<const MD5_CTX*>(raw.data());
}

constexpr std::string_view kMd5CheckpointTag = "md5v1";
constexpr std::size_t kMd5CheckpointBytes = kMd5CheckpointTag.size() + 4 * 4 + 2 * 4 + 64 + 4;

void put_u32(std::string& out, std::uint32_t v) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
std::uint32_t get_u32(std::string_view in, std::size_t at) {
    std::uint32_t v = 0;
    for (int i = 3; i >= 0; --i) {
        v = (v << 8) | static_cast<unsigned char>(in[at + static_cast<std::size_t>(i)]);
    }
    return v;
}

}  // namespace

static_assert(sizeof(MD5_CTX) <= 96 && alignof(MD5_CTX) <= 8);

Md5::Md5() { MD5_Init(&md5_ctx(state_)); }
void Md5::update(std::span<const std::uint8_t> bytes) {
    MD5_Update(&md5_ctx(state_), bytes.data(), bytes.size());
}
void Md5::update(std::string_view bytes) {
    MD5_Update(&md5_ctx(state_), bytes.data(), bytes.size());
}
Md5Digest Md5::digest() const {
    MD5_CTX copy = md5_ctx(state_);
    Md5Digest out{};
    MD5_Final(out.data(), &copy);
    return out;
}
std::uint64_t Md5::size() const {
    const auto& c = md5_ctx(state_);
    return ((static_cast<std::uint64_t>(c.Nh) << 32) | c.Nl) / 8;
}

// Little-endian fields of MD5_CTX: A B C D, the bit count (Nl Nh), the pending block
// as 16 words, and how many bytes of it are pending.
std::string Md5::checkpoint() const {
    const auto& c = md5_ctx(state_);
    std::string out(kMd5CheckpointTag);
    out.reserve(kMd5CheckpointBytes);
    for (auto v : {c.A, c.B, c.C, c.D, c.Nl, c.Nh}) put_u32(out, v);
    for (auto v : c.data) put_u32(out, v);
    put_u32(out, c.num);
    return out;
}

std::optional<Md5> Md5::restore(std::string_view in) {
    if (in.size() != kMd5CheckpointBytes || !in.starts_with(kMd5CheckpointTag)) {
        return std::nullopt;
    }
    Md5 h;
    auto& c = md5_ctx(h.state_);
    std::size_t at = kMd5CheckpointTag.size();
    for (auto* v : {&c.A, &c.B, &c.C, &c.D, &c.Nl, &c.Nh}) {
        *v = get_u32(in, at);
        at += 4;
    }
    for (auto& v : c.data) {
        v = get_u32(in, at);
        at += 4;
    }
    c.num = get_u32(in, at);
    if (c.Nl % 8 != 0 || c.num >= MD5_CBLOCK || (c.Nl / 8) % MD5_CBLOCK != c.num) {
        return std::nullopt;  // Md5 counts whole bytes, and pends what its count says
    }
    return h;
}

struct Sha256::State {
    MdCtx ctx = new_digest(EVP_sha256());
};
Sha256::Sha256() : state_(std::make_unique<State>()) {}
Sha256::~Sha256() = default;
void Sha256::update(std::string_view bytes) {
    EVP_DigestUpdate(state_->ctx.get(), bytes.data(), bytes.size());
}
Sha256Digest Sha256::finish() { return finish_digest<32>(state_->ctx.get()); }

Md5Digest md5(std::string_view bytes) {
    Md5 h;
    h.update(bytes);
    return h.digest();
}

Sha256Digest sha256(std::string_view bytes) {
    Sha256 h;
    h.update(bytes);
    return h.finish();
}

Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::string_view data) {
    Sha256Digest out{};
    unsigned int len = 0;
    HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
         reinterpret_cast<const unsigned char*>(data.data()), data.size(), out.data(), &len);
    return out;
}

Sha256Digest hmac_sha256(std::string_view key, std::string_view data) {
    return hmac_sha256(std::span<const std::uint8_t>(
                           reinterpret_cast<const std::uint8_t*>(key.data()), key.size()),
                       data);
}

std::string to_hex(std::span<const std::uint8_t> bytes) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(bytes.size() * 2);
    for (auto b : bytes) {
        out.push_back(kDigits[b >> 4]);
        out.push_back(kDigits[b & 0x0f]);
    }
    return out;
}

std::string base64_encode(std::span<const std::uint8_t> bytes) {
    std::string out(4 * ((bytes.size() + 2) / 3), '\0');
    int n = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()), bytes.data(),
                            static_cast<int>(bytes.size()));
    out.resize(static_cast<std::size_t>(n));
    return out;
}

bool base64_decode(std::string_view text, std::string& out) {
    if (text.size() % 4 != 0) return false;
    out.assign(3 * text.size() / 4, '\0');
    int n = EVP_DecodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                            reinterpret_cast<const unsigned char*>(text.data()),
                            static_cast<int>(text.size()));
    if (n < 0) return false;
    // EVP_DecodeBlock counts padding as zero bytes; drop them.
    std::size_t pad = 0;
    if (!text.empty() && text.back() == '=') ++pad;
    if (text.size() > 1 && text[text.size() - 2] == '=') ++pad;
    out.resize(static_cast<std::size_t>(n) - pad);
    return true;
}

std::string base64url_encode(std::string_view bytes) {
    std::string s = base64_encode(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()));
    for (auto& c : s) {
        if (c == '+') c = '-';
        if (c == '/') c = '_';
    }
    while (!s.empty() && s.back() == '=') s.pop_back();
    return s;
}

bool base64url_decode(std::string_view text, std::string& out) {
    std::string s(text);
    for (auto& c : s) {
        if (c == '-')
            c = '+';
        else if (c == '_')
            c = '/';
        else if (c == '+' || c == '/' || c == '=')
            return false;
    }
    while (s.size() % 4 != 0) s.push_back('=');
    return base64_decode(s, out);
}

bool constant_time_equal(std::string_view a, std::string_view b) {
    if (a.size() != b.size()) return false;
    return CRYPTO_memcmp(a.data(), b.data(), a.size()) == 0;
}

std::string random_bytes(std::size_t n) {
    std::string out(n, '\0');
    if (RAND_bytes(reinterpret_cast<unsigned char*>(out.data()), static_cast<int>(n)) != 1) {
        throw std::runtime_error("OpenSSL RAND_bytes failed");
    }
    return out;
}

}  // namespace audiodrop::core
