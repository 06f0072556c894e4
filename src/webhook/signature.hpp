#pragma once

// Signing webhook deliveries, and verifying them on the receiving end.
//
// Every delivery carries two signatures over the same bytes, so a receiver can use
// either scheme:
//  - Plaud: `Plaud-Timestamp: <unix seconds>` and
//    `Plaud-Signature: sha256=<lowercase hex HMAC-SHA256>`, keyed with the whole secret
//    string ("whsec_..." included) over "<timestamp>.<raw body>".
//  - Standard Webhooks (https://www.standardwebhooks.com, spec "Signature scheme"):
//    `webhook-id`, `webhook-timestamp` and `webhook-signature: v1,<base64 HMAC-SHA256>`,
//    keyed with the base64-decoded part after "whsec_", over "<id>.<timestamp>.<body>".
//
// Secret rotation: during a rotation a delivery is signed with two secrets, the new one
// first. Plaud-Signature then holds "sha256=<hex new>,sha256=<hex old>" (comma-separated)
// and webhook-signature "v1,<new> v1,<old>" (space-separated, as the spec has it); a
// receiver accepts the delivery when ANY of the listed signatures verifies with its
// secret, so receivers holding either secret keep working.
//
// All functions are pure and thread-safe. Verification compares in constant time.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace audiodrop::webhook {

// The tolerance the Standard Webhooks reference libraries use against replays.
inline constexpr std::int64_t kDefaultToleranceSeconds = 300;

// A new subscription secret: "whsec_" + base64 (standard, padded) of 32 random bytes.
std::string new_secret();

struct SignedHeaders {
    // Plaud-Timestamp, Plaud-Signature, webhook-id, webhook-timestamp, webhook-signature.
    std::vector<std::pair<std::string, std::string>> headers;
};

// The headers a delivery carries, signed with every secret in `secrets` (one normally,
// two during a rotation: the new one first). With no secret the signature headers are
// empty, which no receiver accepts.
//
// A secret whose part after "whsec_" is not canonical base64 (none that new_secret()
// makes) is used as raw bytes for the Standard Webhooks key, as verify_standard() does.
SignedHeaders sign(std::string_view event_id, std::int64_t timestamp, std::string_view body,
                   const std::vector<std::string>& secrets);

struct VerifyResult {
    bool ok = false;
    std::string why;  // a sentence when !ok
};

// True when a `sha256=` signature in `signature_header` (comma-separated entries; others
// ignored) verifies with `secret` and the timestamp is within `tolerance_seconds` of
// `now`, either way. The header values are raw text from outside.
VerifyResult verify_plaud(std::string_view secret, std::string_view timestamp_header,
                          std::string_view signature_header, std::string_view body,
                          std::int64_t now,
                          std::int64_t tolerance_seconds = kDefaultToleranceSeconds);

// The same for Standard Webhooks: a `v1,` signature among the space-separated entries of
// `signature_header` (other versions ignored) verifies with `secret`.
VerifyResult verify_standard(std::string_view secret, std::string_view id_header,
                             std::string_view timestamp_header, std::string_view signature_header,
                             std::string_view body, std::int64_t now,
                             std::int64_t tolerance_seconds = kDefaultToleranceSeconds);

}  // namespace audiodrop::webhook
