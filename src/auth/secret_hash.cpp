#include "auth/secret_hash.hpp"

#include <argon2.h>

#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <vector>

#include "core/hashing.hpp"

namespace audiodrop::auth {
namespace {
// OWASP Password Storage Cheat Sheet, argon2id: m=19 MiB, t=2, p=1.
constexpr std::uint32_t kTimeCost = 2;
constexpr std::uint32_t kMemoryKib = 19456;
constexpr std::uint32_t kParallelism = 1;
constexpr std::size_t kSaltBytes = 16;
constexpr std::size_t kHashBytes = 32;
}  // namespace

std::string hash_secret(std::string_view secret) {
    const std::string salt = core::random_bytes(kSaltBytes);
    // argon2_encodedlen counts the terminating NUL.
    std::vector<char> encoded(
        argon2_encodedlen(kTimeCost, kMemoryKib, kParallelism, kSaltBytes, kHashBytes, Argon2_id));
    const int rc =
        argon2id_hash_encoded(kTimeCost, kMemoryKib, kParallelism, secret.data(), secret.size(),
                              salt.data(), salt.size(), kHashBytes, encoded.data(), encoded.size());
    if (rc != ARGON2_OK) {
        // Only allocation failure can get here with these fixed, valid parameters.
        throw std::runtime_error(std::string("argon2id hashing failed: ") +
                                 argon2_error_message(rc));
    }
    return std::string(encoded.data(), std::strlen(encoded.data()));
}

bool verify_secret(std::string_view secret, const std::string& encoded) {
    return argon2id_verify(encoded.c_str(), secret.data(), secret.size()) == ARGON2_OK;
}

}  // namespace audiodrop::auth
