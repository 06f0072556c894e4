#pragma once

#include <string>
#include <string_view>

namespace audiodrop::auth {

// Slow, salted hashes of partner secrets: argon2id with OWASP's recommended cost
// (t=2, m=19 MiB, p=1) and a fresh 16-byte salt, as a PHC string
// ("$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>"). The parameters travel in the string,
// so raising them later keeps old hashes verifiable.
std::string hash_secret(std::string_view secret);

// True when `secret` hashes to `encoded`; false for a wrong secret and for an encoded
// string that is not a well-formed argon2id PHC string. Takes as long as hashing.
bool verify_secret(std::string_view secret, const std::string& encoded);

}  // namespace audiodrop::auth
