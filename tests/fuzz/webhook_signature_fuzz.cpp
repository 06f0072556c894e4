// libFuzzer target: webhook signature headers as a receiver reads them
// (webhook::verify_plaud, webhook::verify_standard), and sign() against them.
//
// Input: byte 0 picks the mode; the rest is NUL-separated fields.
//   even: secret, id header, timestamp header, signature header, body: verified at the
//         fixed "now" of every target, with both schemes.
//   odd:  secret, second secret, id, body; bytes 1-8 of the rest give the timestamp:
//         signed, then verified.
//
// Properties beyond "no crash": a refusal says why; an accepted header's timestamp is
// digits within the tolerance of now; what sign() makes verifies with each of its
// secrets at its own timestamp, and not once the body or the clock (past the tolerance)
// differs.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.hpp"
#include "webhook/signature.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

const std::int64_t kNow = core::to_unix(fuzz::kNow);

void verify(std::string_view rest) {
    const auto secret = fuzz::next_field(rest);
    const auto id = fuzz::next_field(rest);
    const auto timestamp = fuzz::next_field(rest);
    const auto signature = fuzz::next_field(rest);
    const auto body = rest;

    const auto plaud = webhook::verify_plaud(secret, timestamp, signature, body, kNow);
    const auto standard = webhook::verify_standard(secret, id, timestamp, signature, body, kNow);
    for (const auto* r : {&plaud, &standard}) {
        check(r->ok || !r->why.empty(), "a refusal says why");
        if (!r->ok) continue;
        const auto first = timestamp.find_first_not_of(" \t");
        const auto last = timestamp.find_last_not_of(" \t");
        check(first != std::string_view::npos, "an accepted timestamp is not blank");
        const auto digits = timestamp.substr(first, last - first + 1);
        check(digits.find_first_not_of("0123456789") == std::string_view::npos,
              "an accepted timestamp is digits");
        const auto seconds = std::stoll(std::string(digits));
        check(seconds >= kNow - 300 && seconds <= kNow + 300, "an accepted timestamp is recent");
    }
}

void round_trip(std::string_view rest) {
    std::int64_t timestamp = 0;
    if (rest.size() >= 8) {
        std::uint64_t raw = 0;
        std::memcpy(&raw, rest.data(), 8);
        rest.remove_prefix(8);
        // Unix seconds as a sender has them: non-negative.
        timestamp = static_cast<std::int64_t>(raw & 0x7FFFFFFFFFFFFFFFull);
    }
    const std::string first(fuzz::next_field(rest));
    const std::string second(fuzz::next_field(rest));
    const std::string id(fuzz::next_field(rest));
    const std::string body(rest);
    const auto signed_headers = webhook::sign(id, timestamp, body, {first, second});
    const auto& h = signed_headers.headers;
    check(h.size() == 5, "five headers");

    // An id with leading or trailing blanks reads back trimmed, as HTTP would have it.
    const bool id_survives =
        !id.empty() && id.find_first_of(" \t") != 0 && id.find_last_of(" \t") != id.size() - 1;
    for (const auto& secret : {first, second}) {
        check(webhook::verify_plaud(secret, h[0].second, h[1].second, body, timestamp).ok,
              "Plaud verifies with each secret");
        check(!webhook::verify_plaud(secret, h[0].second, h[1].second, body + "x", timestamp).ok,
              "Plaud refuses another body");
        if (timestamp < std::numeric_limits<std::int64_t>::max() - 301) {
            check(
                !webhook::verify_plaud(secret, h[0].second, h[1].second, body, timestamp + 301).ok,
                "Plaud refuses an old timestamp");
        }
        if (!id_survives) continue;
        check(
            webhook::verify_standard(secret, h[2].second, h[3].second, h[4].second, body, timestamp)
                .ok,
            "Standard Webhooks verifies with each secret");
        check(!webhook::verify_standard(secret, h[2].second, h[3].second, h[4].second, body + "x",
                                        timestamp)
                   .ok,
              "Standard Webhooks refuses another body");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    if (fuzz::next_byte(rest) % 2 == 0) {
        verify(rest);
    } else {
        round_trip(rest);
    }
    return 0;
}
