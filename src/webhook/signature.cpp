#include "webhook/signature.hpp"

#include <charconv>
#include <span>

#include "core/hashing.hpp"
#include "core/text.hpp"

namespace audiodrop::webhook {
namespace {

constexpr std::string_view kSecretPrefix = "whsec_";
constexpr std::string_view kPlaudPrefix = "sha256=";
constexpr std::string_view kStandardPrefix = "v1,";
constexpr std::size_t kSecretBytes = 32;
// Unix seconds fit in 19 digits until long after anyone reads this; more is an attack.
constexpr std::size_t kMaxTimestampDigits = 19;

std::span<const std::uint8_t> as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

// Standard Webhooks: the HMAC key is the base64-decoded part after "whsec_". A secret
// that is not that (never one of ours) keys with its raw bytes rather than failing, so
// sign() and verify_standard() agree on every input.
std::string standard_key(std::string_view secret) {
    std::string_view encoded = secret;
    if (encoded.starts_with(kSecretPrefix)) encoded.remove_prefix(kSecretPrefix.size());
    std::string key;
    // core::base64_decode is lenient about padding; only the canonical form counts.
    if (!encoded.empty() && core::base64_decode(encoded, key) &&
        core::base64_encode(as_bytes(key)) == encoded) {
        return key;
    }
    return std::string(secret);
}

std::string plaud_signature(std::string_view secret, std::string_view timestamp,
                            std::string_view body) {
    std::string message;
    message.reserve(timestamp.size() + 1 + body.size());
    message.append(timestamp).append(".").append(body);
    return core::to_hex(core::hmac_sha256(secret, message));
}

std::string standard_signature(std::string_view key, std::string_view id,
                               std::string_view timestamp, std::string_view body) {
    std::string message;
    message.reserve(id.size() + timestamp.size() + 2 + body.size());
    message.append(id).append(".").append(timestamp).append(".").append(body);
    const auto mac = core::hmac_sha256(as_bytes(key), message);
    return core::base64_encode(mac);
}

// The timestamp header as unix seconds: digits only (surrounding blanks allowed), and
// within `tolerance` of `now`. Empty `why` when it passes.
std::string check_timestamp(std::string_view header_name, std::string_view value, std::int64_t now,
                            std::int64_t tolerance) {
    value = core::trim_spaces(value);
    if (value.empty()) return "the " + std::string(header_name) + " header is missing";
    if (value.size() > kMaxTimestampDigits ||
        value.find_first_not_of("0123456789") != std::string_view::npos) {
        return "the " + std::string(header_name) + " header is not a number of unix seconds";
    }
    std::int64_t timestamp = 0;
    const auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), timestamp);
    if (ec != std::errc() || end != value.data() + value.size()) {
        return "the " + std::string(header_name) + " header is not a number of unix seconds";
    }
    // Both in int64 range, so the distance fits in uint64 whichever is larger.
    const std::uint64_t distance =
        timestamp >= now ? static_cast<std::uint64_t>(timestamp) - static_cast<std::uint64_t>(now)
                         : static_cast<std::uint64_t>(now) - static_cast<std::uint64_t>(timestamp);
    const std::uint64_t allowed = tolerance > 0 ? static_cast<std::uint64_t>(tolerance) : 0;
    if (distance > allowed) {
        return "the " + std::string(header_name) + " is " + std::to_string(distance) + " s " +
               (timestamp < now ? "old" : "in the future") + ", more than the " +
               std::to_string(allowed) + " s tolerance";
    }
    return {};
}

// Calls `each` with every entry of `list` split at `separator`, blanks trimmed, empty
// entries skipped.
template <class F>
void for_each_entry(std::string_view list, char separator, F&& each) {
    while (!list.empty()) {
        const auto at = list.find(separator);
        const auto entry = core::trim_spaces(list.substr(0, at));
        list = at == std::string_view::npos ? std::string_view() : list.substr(at + 1);
        if (!entry.empty()) each(entry);
    }
}

VerifyResult refused(std::string why) { return VerifyResult{false, std::move(why)}; }

}  // namespace

std::string new_secret() {
    return std::string(kSecretPrefix) +
           core::base64_encode(as_bytes(core::random_bytes(kSecretBytes)));
}

SignedHeaders sign(std::string_view event_id, std::int64_t timestamp, std::string_view body,
                   const std::vector<std::string>& secrets) {
    const std::string ts = std::to_string(timestamp);
    std::string plaud;
    std::string standard;
    for (const auto& secret : secrets) {
        if (!plaud.empty()) plaud += ',';
        plaud.append(kPlaudPrefix).append(plaud_signature(secret, ts, body));
        if (!standard.empty()) standard += ' ';
        standard.append(kStandardPrefix)
            .append(standard_signature(standard_key(secret), event_id, ts, body));
    }
    SignedHeaders out;
    out.headers = {{"Plaud-Timestamp", ts},
                   {"Plaud-Signature", std::move(plaud)},
                   {"webhook-id", std::string(event_id)},
                   {"webhook-timestamp", ts},
                   {"webhook-signature", std::move(standard)}};
    return out;
}

VerifyResult verify_plaud(std::string_view secret, std::string_view timestamp_header,
                          std::string_view signature_header, std::string_view body,
                          std::int64_t now, std::int64_t tolerance_seconds) {
    if (auto why = check_timestamp("Plaud-Timestamp", timestamp_header, now, tolerance_seconds);
        !why.empty()) {
        return refused(std::move(why));
    }
    const std::string expected = plaud_signature(secret, core::trim_spaces(timestamp_header), body);
    bool any = false;
    bool match = false;
    for_each_entry(signature_header, ',', [&](std::string_view entry) {
        if (!entry.starts_with(kPlaudPrefix)) return;  // another scheme: not ours to judge
        any = true;
        std::string hex(entry.substr(kPlaudPrefix.size()));
        for (auto& c : hex) {
            if (c >= 'A' && c <= 'F') c = static_cast<char>(c - 'A' + 'a');
        }
        // No early exit: every entry costs the same whichever matches.
        match = core::constant_time_equal(hex, expected) || match;
    });
    if (!any) return refused("the Plaud-Signature header holds no sha256= signature");
    if (!match) return refused("no Plaud-Signature matches this secret and body");
    return VerifyResult{true, {}};
}

VerifyResult verify_standard(std::string_view secret, std::string_view id_header,
                             std::string_view timestamp_header, std::string_view signature_header,
                             std::string_view body, std::int64_t now,
                             std::int64_t tolerance_seconds) {
    const auto id = core::trim_spaces(id_header);
    if (id.empty()) return refused("the webhook-id header is missing");
    if (auto why = check_timestamp("webhook-timestamp", timestamp_header, now, tolerance_seconds);
        !why.empty()) {
        return refused(std::move(why));
    }
    const std::string expected =
        standard_signature(standard_key(secret), id, core::trim_spaces(timestamp_header), body);
    bool any = false;
    bool match = false;
    for_each_entry(signature_header, ' ', [&](std::string_view entry) {
        if (!entry.starts_with(kStandardPrefix)) return;  // v1a (asymmetric) or newer
        any = true;
        match = core::constant_time_equal(entry.substr(kStandardPrefix.size()), expected) || match;
    });
    if (!any) return refused("the webhook-signature header holds no v1 signature");
    if (!match) return refused("no webhook-signature matches this secret and body");
    return VerifyResult{true, {}};
}

}  // namespace audiodrop::webhook
