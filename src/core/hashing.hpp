#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace audiodrop::core {

using Md5Digest = std::array<std::uint8_t, 16>;
using Sha256Digest = std::array<std::uint8_t, 32>;

// Incremental MD5 so bytes are hashed while they stream, never buffered whole.
// Copyable, and its running state can be saved and restored (checkpoint/restore):
// the whole-file MD5 of an upload advances part by part, across restarts.
class Md5 {
  public:
    Md5();
    void update(std::span<const std::uint8_t> bytes);
    void update(std::string_view bytes);
    // The digest of everything so far; the state is left as it was.
    Md5Digest digest() const;
    // Bytes hashed so far.
    std::uint64_t size() const;

    // A portable encoding of the running state (fixed size, byte order fixed), and
    // its inverse; restore() gives nullopt for anything that is not such an encoding.
    std::string checkpoint() const;
    static std::optional<Md5> restore(std::string_view checkpoint);

  private:
    // OpenSSL's MD5_CTX, kept opaque here; hashing.cpp checks the size.
    alignas(8) std::array<std::byte, 96> state_{};
};

class Sha256 {
  public:
    Sha256();
    ~Sha256();
    void update(std::string_view bytes);
    Sha256Digest finish();

  private:
    struct State;
    std::unique_ptr<State> state_;
};

Md5Digest md5(std::string_view bytes);
Sha256Digest sha256(std::string_view bytes);
Sha256Digest hmac_sha256(std::span<const std::uint8_t> key, std::string_view data);
Sha256Digest hmac_sha256(std::string_view key, std::string_view data);

std::string to_hex(std::span<const std::uint8_t> bytes);
// Lowercase hex of a digest, the form S3 ETags and FileMd5 use.
template <std::size_t N>
std::string to_hex(const std::array<std::uint8_t, N>& d) {
    return to_hex(std::span<const std::uint8_t>(d.data(), d.size()));
}

std::string base64_encode(std::span<const std::uint8_t> bytes);
// Returns false when `text` is not valid base64.
bool base64_decode(std::string_view text, std::string& out);
std::string base64url_encode(std::string_view bytes);
bool base64url_decode(std::string_view text, std::string& out);

// Compares in time independent of where the inputs differ (signatures, token MACs).
bool constant_time_equal(std::string_view a, std::string_view b);

// Cryptographically secure random bytes from OpenSSL.
std::string random_bytes(std::size_t n);

}  // namespace audiodrop::core
