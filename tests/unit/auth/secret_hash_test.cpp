#include "auth/secret_hash.hpp"

#include <gtest/gtest.h>

#include <algorithm>

namespace audiodrop::auth {
namespace {

TEST(SecretHash, IsAnArgon2idPhcStringWithOwaspParameters) {
    const std::string encoded = hash_secret("sk_example");
    EXPECT_TRUE(encoded.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")) << encoded;
    // $argon2id$v=19$params$salt$hash: five '$' and non-empty salt and hash fields.
    EXPECT_EQ(std::count(encoded.begin(), encoded.end(), '$'), 5);
    const auto salt_begin = encoded.find('$', encoded.find("p=1")) + 1;
    const auto hash_begin = encoded.find('$', salt_begin) + 1;
    EXPECT_EQ(hash_begin - salt_begin - 1, 22u);  // 16 bytes, unpadded base64
    EXPECT_EQ(encoded.size() - hash_begin, 43u);  // 32 bytes, unpadded base64
    EXPECT_EQ(encoded.find("sk_example"), std::string::npos);
}

TEST(SecretHash, VerifiesTheRightSecretOnly) {
    const std::string encoded = hash_secret("correct horse battery staple");
    EXPECT_TRUE(verify_secret("correct horse battery staple", encoded));
    EXPECT_FALSE(verify_secret("correct horse battery stapler", encoded));
    EXPECT_FALSE(verify_secret("", encoded));
}

TEST(SecretHash, SaltsEveryHash) {
    const std::string a = hash_secret("same secret");
    const std::string b = hash_secret("same secret");
    EXPECT_NE(a, b);
    EXPECT_TRUE(verify_secret("same secret", a));
    EXPECT_TRUE(verify_secret("same secret", b));
}

TEST(SecretHash, EmptySecretRoundTrips) {
    const std::string encoded = hash_secret("");
    EXPECT_TRUE(verify_secret("", encoded));
    EXPECT_FALSE(verify_secret("x", encoded));
}

TEST(SecretHash, MalformedEncodingNeverVerifies) {
    const std::string encoded = hash_secret("secret");
    EXPECT_FALSE(verify_secret("secret", ""));
    EXPECT_FALSE(verify_secret("secret", "secret"));
    EXPECT_FALSE(verify_secret("secret", encoded.substr(0, encoded.size() - 5)));
    std::string argon2i = encoded;
    argon2i.replace(0, 10, "$argon2i$");
    EXPECT_FALSE(verify_secret("secret", argon2i));
    std::string other_hash = encoded;
    other_hash.back() = other_hash.back() == 'A' ? 'B' : 'A';
    EXPECT_FALSE(verify_secret("secret", other_hash));
}

}  // namespace
}  // namespace audiodrop::auth
