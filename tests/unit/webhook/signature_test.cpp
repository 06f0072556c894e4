#include "webhook/signature.hpp"

#include <gtest/gtest.h>

#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "core/hashing.hpp"

namespace audiodrop::webhook {
namespace {

// The Standard Webhooks reference test vector (the spec's libraries and svix test with
// it): a receiver library will accept what we send only if we reproduce it exactly.
constexpr std::string_view kVectorSecret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
constexpr std::string_view kVectorId = "msg_p5jXN8AQM9LWM0D4loKWxJek";
constexpr std::int64_t kVectorTimestamp = 1614265330;
constexpr std::string_view kVectorBody = R"({"test": 2432232314})";
constexpr std::string_view kVectorSignature = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";
// The Plaud signature of the same delivery, from outside this code base:
//   printf '%s' '1614265330.{"test": 2432232314}' |
//     openssl dgst -sha256 -hmac 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw'
// (and Python's hmac.new(secret, msg, hashlib.sha256).hexdigest() agrees).
constexpr std::string_view kVectorPlaud =
    "sha256=2e37df5d4a028c51a7f3133d64ae1e300d2c2c900f1b1d49d4369ad2530f8964";

std::string header(const SignedHeaders& signed_headers, std::string_view name) {
    for (const auto& [n, v] : signed_headers.headers) {
        if (n == name) return v;
    }
    ADD_FAILURE() << "no header " << name;
    return {};
}

SignedHeaders sign_vector(const std::vector<std::string>& secrets) {
    return sign(kVectorId, kVectorTimestamp, kVectorBody, secrets);
}

TEST(Signature, ReproducesTheStandardWebhooksTestVector) {
    const auto h = sign_vector({std::string(kVectorSecret)});
    EXPECT_EQ(header(h, "webhook-signature"), kVectorSignature);
    EXPECT_EQ(header(h, "webhook-id"), kVectorId);
    EXPECT_EQ(header(h, "webhook-timestamp"), "1614265330");
}

TEST(Signature, ReproducesThePlaudSignatureComputedByOpenssl) {
    const auto h = sign_vector({std::string(kVectorSecret)});
    EXPECT_EQ(header(h, "Plaud-Signature"), kVectorPlaud);
    EXPECT_EQ(header(h, "Plaud-Timestamp"), "1614265330");
}

TEST(Signature, HeadersComeInTheDocumentedOrder) {
    const auto h = sign_vector({std::string(kVectorSecret)});
    ASSERT_EQ(h.headers.size(), 5u);
    EXPECT_EQ(h.headers[0].first, "Plaud-Timestamp");
    EXPECT_EQ(h.headers[1].first, "Plaud-Signature");
    EXPECT_EQ(h.headers[2].first, "webhook-id");
    EXPECT_EQ(h.headers[3].first, "webhook-timestamp");
    EXPECT_EQ(h.headers[4].first, "webhook-signature");
}

TEST(Signature, VerifiesTheTestVectorAsReceived) {
    EXPECT_TRUE(verify_standard(kVectorSecret, kVectorId, "1614265330", kVectorSignature,
                                kVectorBody, kVectorTimestamp)
                    .ok);
    EXPECT_TRUE(
        verify_plaud(kVectorSecret, "1614265330", kVectorPlaud, kVectorBody, kVectorTimestamp).ok);
    // The reference libraries accept a header with an unknown signature before ours.
    EXPECT_TRUE(verify_standard(kVectorSecret, kVectorId, "1614265330",
                                "v1,bm9wZQ== " + std::string(kVectorSignature), kVectorBody,
                                kVectorTimestamp)
                    .ok);
}

TEST(Signature, NewSecretsAreWhsecBase64Of32RandomBytes) {
    const auto a = new_secret();
    const auto b = new_secret();
    EXPECT_NE(a, b);
    ASSERT_TRUE(a.starts_with("whsec_"));
    EXPECT_EQ(a.size(), 6u + 44u);
    std::string key;
    ASSERT_TRUE(core::base64_decode(a.substr(6), key));
    EXPECT_EQ(key.size(), 32u);

    const auto h = sign("evt_1", 1000, "{}", {a});
    EXPECT_TRUE(
        verify_plaud(a, header(h, "Plaud-Timestamp"), header(h, "Plaud-Signature"), "{}", 1000).ok);
    EXPECT_TRUE(verify_standard(a, header(h, "webhook-id"), header(h, "webhook-timestamp"),
                                header(h, "webhook-signature"), "{}", 1000)
                    .ok);
}

TEST(Signature, DuringARotationBothSecretsVerify) {
    const std::string fresh = new_secret();
    const std::string old(kVectorSecret);
    const auto both = sign_vector({fresh, old});
    const auto only_fresh = sign_vector({fresh});
    const auto only_old = sign_vector({old});

    EXPECT_EQ(header(both, "Plaud-Signature"),
              header(only_fresh, "Plaud-Signature") + "," + header(only_old, "Plaud-Signature"));
    EXPECT_EQ(header(both, "webhook-signature"), header(only_fresh, "webhook-signature") + " " +
                                                     header(only_old, "webhook-signature"));
    for (const auto& secret : {fresh, old}) {
        EXPECT_TRUE(verify_plaud(secret, header(both, "Plaud-Timestamp"),
                                 header(both, "Plaud-Signature"), kVectorBody, kVectorTimestamp)
                        .ok);
        EXPECT_TRUE(verify_standard(secret, kVectorId, header(both, "webhook-timestamp"),
                                    header(both, "webhook-signature"), kVectorBody,
                                    kVectorTimestamp)
                        .ok);
    }
    const std::string stranger = new_secret();
    EXPECT_FALSE(verify_plaud(stranger, "1614265330", header(both, "Plaud-Signature"), kVectorBody,
                              kVectorTimestamp)
                     .ok);
    EXPECT_FALSE(verify_standard(stranger, kVectorId, "1614265330",
                                 header(both, "webhook-signature"), kVectorBody, kVectorTimestamp)
                     .ok);
}

TEST(Signature, ATamperedBodyIdOrTimestampIsRefused) {
    const std::string body = std::string(kVectorBody) + " ";
    auto r = verify_plaud(kVectorSecret, "1614265330", kVectorPlaud, body, kVectorTimestamp);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.why.empty());
    r = verify_standard(kVectorSecret, kVectorId, "1614265330", kVectorSignature, body,
                        kVectorTimestamp);
    EXPECT_FALSE(r.ok);
    EXPECT_FALSE(r.why.empty());
    EXPECT_FALSE(verify_standard(kVectorSecret, "msg_other", "1614265330", kVectorSignature,
                                 kVectorBody, kVectorTimestamp)
                     .ok);
    // Signed for another second, presented within the tolerance: still refused.
    EXPECT_FALSE(
        verify_plaud(kVectorSecret, "1614265331", kVectorPlaud, kVectorBody, kVectorTimestamp).ok);
    EXPECT_FALSE(verify_standard(kVectorSecret, kVectorId, "1614265331", kVectorSignature,
                                 kVectorBody, kVectorTimestamp)
                     .ok);
}

TEST(Signature, TimestampsOutsideTheToleranceAreRefused) {
    const auto plaud_at = [](std::int64_t now, std::int64_t tolerance = 300) {
        return verify_plaud(kVectorSecret, "1614265330", kVectorPlaud, kVectorBody, now, tolerance);
    };
    const auto standard_at = [](std::int64_t now) {
        return verify_standard(kVectorSecret, kVectorId, "1614265330", kVectorSignature,
                               kVectorBody, now);
    };
    EXPECT_TRUE(plaud_at(kVectorTimestamp + 300).ok);
    EXPECT_TRUE(plaud_at(kVectorTimestamp - 300).ok);
    EXPECT_TRUE(standard_at(kVectorTimestamp + 300).ok);
    const auto old = plaud_at(kVectorTimestamp + 301);
    EXPECT_FALSE(old.ok);
    EXPECT_NE(old.why.find("301 s old"), std::string::npos) << old.why;
    EXPECT_FALSE(plaud_at(kVectorTimestamp - 301).ok);
    EXPECT_FALSE(standard_at(kVectorTimestamp + 301).ok);
    EXPECT_FALSE(standard_at(kVectorTimestamp - 301).ok);
    EXPECT_FALSE(plaud_at(kVectorTimestamp + 10, 5).ok);
    // A negative tolerance counts as none.
    EXPECT_TRUE(plaud_at(kVectorTimestamp, -1).ok);
    EXPECT_FALSE(plaud_at(kVectorTimestamp + 1, -1).ok);
    // Extreme clocks: no overflow, just a refusal.
    EXPECT_FALSE(plaud_at(std::numeric_limits<std::int64_t>::min()).ok);
    EXPECT_FALSE(plaud_at(std::numeric_limits<std::int64_t>::max()).ok);
    EXPECT_FALSE(plaud_at(kVectorTimestamp + 1, std::numeric_limits<std::int64_t>::min()).ok);
    EXPECT_TRUE(
        plaud_at(std::numeric_limits<std::int64_t>::max(), std::numeric_limits<std::int64_t>::max())
            .ok);
}

TEST(Signature, GarbageTimestampHeadersAreRefusedWithAReason) {
    for (const std::string_view ts : std::vector<std::string_view>{
             "", " ", "abc", "-1614265330", "+1614265330", "1614265330.0", "1e9", "0x60376ef2",
             "16142 65330", "99999999999999999999999", "9223372036854775808",
             std::string_view("1614265330\0", 11)}) {
        const auto p = verify_plaud(kVectorSecret, ts, kVectorPlaud, kVectorBody, kVectorTimestamp);
        EXPECT_FALSE(p.ok) << ts;
        EXPECT_FALSE(p.why.empty()) << ts;
        const auto s = verify_standard(kVectorSecret, kVectorId, ts, kVectorSignature, kVectorBody,
                                       kVectorTimestamp);
        EXPECT_FALSE(s.ok) << ts;
        EXPECT_FALSE(s.why.empty()) << ts;
    }
    // Blanks around the number are how HTTP parsers may leave it.
    EXPECT_TRUE(
        verify_plaud(kVectorSecret, " 1614265330\t", kVectorPlaud, kVectorBody, kVectorTimestamp)
            .ok);
}

TEST(Signature, GarbageSignatureHeadersAreRefusedWithAReason) {
    const std::string hex(kVectorPlaud.substr(7));
    for (const std::string& sig : std::vector<std::string>{
             std::string(), std::string(" "), std::string(",,,"), std::string("sha256="),
             std::string("sha256=zz"), std::string("sha1=") + hex, std::string("SHA256=") + hex,
             "sha256=" + hex + "00", "sha256=" + hex.substr(1), std::string("v1,") + hex,
             "sha256= " + hex.substr(0, 10), std::string(kVectorSignature), std::string(4096, ','),
             "sha256=" + hex + std::string("\0", 1)}) {
        const auto r =
            verify_plaud(kVectorSecret, "1614265330", sig, kVectorBody, kVectorTimestamp);
        EXPECT_FALSE(r.ok) << sig;
        EXPECT_FALSE(r.why.empty()) << sig;
    }
    // Uppercase hex, blanks, and other schemes next to ours are fine.
    std::string upper = hex;
    for (auto& c : upper) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    EXPECT_TRUE(
        verify_plaud(kVectorSecret, "1614265330", "sha256=" + upper, kVectorBody, kVectorTimestamp)
            .ok);
    EXPECT_TRUE(verify_plaud(kVectorSecret, "1614265330",
                             "sha512=abc , " + std::string(kVectorPlaud) + " ,", kVectorBody,
                             kVectorTimestamp)
                    .ok);

    const std::string b64(kVectorSignature.substr(3));
    for (const std::string& sig : std::vector<std::string>{
             std::string(), std::string("v1,"), std::string("v1a,") + b64, std::string("v2,") + b64,
             std::string("v1") + b64, "v1," + b64.substr(1), "v1," + b64 + "=",
             std::string(kVectorPlaud), "v1,," + b64, std::string(4096, ' ')}) {
        const auto r = verify_standard(kVectorSecret, kVectorId, "1614265330", sig, kVectorBody,
                                       kVectorTimestamp);
        EXPECT_FALSE(r.ok) << sig;
        EXPECT_FALSE(r.why.empty()) << sig;
    }
    const auto no_id = verify_standard(kVectorSecret, "", "1614265330", kVectorSignature,
                                       kVectorBody, kVectorTimestamp);
    EXPECT_FALSE(no_id.ok);
    EXPECT_NE(no_id.why.find("webhook-id"), std::string::npos);
}

TEST(Signature, ASecretThatIsNotBase64StillSignsAndVerifiesConsistently) {
    for (const std::string& secret :
         std::vector<std::string>{"plain-text-key", "whsec_not base64!", "whsec_", ""}) {
        const auto h = sign("evt", 5, "{}", {secret});
        EXPECT_TRUE(verify_standard(secret, "evt", "5", header(h, "webhook-signature"), "{}", 5).ok)
            << secret;
        EXPECT_TRUE(verify_plaud(secret, "5", header(h, "Plaud-Signature"), "{}", 5).ok) << secret;
    }
    // Without the prefix, the base64 part keys the same as with it (as the reference
    // libraries have it).
    const auto bare = sign_vector({std::string(kVectorSecret.substr(6))});
    EXPECT_EQ(header(bare, "webhook-signature"), kVectorSignature);
}

TEST(Signature, NoSecretSignsNothing) {
    const auto h = sign_vector({});
    EXPECT_EQ(header(h, "Plaud-Signature"), "");
    EXPECT_EQ(header(h, "webhook-signature"), "");
    EXPECT_FALSE(verify_plaud(kVectorSecret, "1614265330", "", kVectorBody, kVectorTimestamp).ok);
}

}  // namespace
}  // namespace audiodrop::webhook
