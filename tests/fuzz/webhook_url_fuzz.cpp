// libFuzzer target: subscription URLs as the service checks them before storing one
// (webhook::check_url_syntax, libcurl's URL parser underneath), and the address
// classification the sender applies to every connection (webhook::is_internal_address).
//
// Input: byte 0 picks what the rest is.
//   bit 2 clear: a URL; bit 0 allows http, bit 1 allows private addresses.
//   bit 2 set:   the first 16 bytes of the rest are an IPv6 address, the first 4 an IPv4.
//
// Properties beyond "no crash":
//   URLs: a refusal is invalid_input "invalid_webhook_url" with a sentence; an accepted
//   URL is at most 2048 printable ASCII characters, starts with https:// (or http:// when
//   allowed), has no fragment and no '@' before its path; allowing http only ever accepts
//   more; allowing private addresses changes nothing without DNS.
//   Addresses: an IPv4 address is judged alike in its IPv4-mapped, IPv4-compatible
//   (when not :: or ::1), NAT64 and 6to4 forms.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cctype>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "webhook/destination.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
    if (s.size() < prefix.size()) return false;
    for (std::size_t i = 0; i < prefix.size(); ++i) {
        if (std::tolower(static_cast<unsigned char>(s[i])) != prefix[i]) return false;
    }
    return true;
}

void url(std::string_view text, bool allow_http, bool allow_private) {
    const webhook::DestinationPolicy policy{allow_http, allow_private};
    const auto r = webhook::check_url_syntax(text, policy);
    const auto again = webhook::check_url_syntax(text, policy);
    check(static_cast<bool>(r) == static_cast<bool>(again), "the check is deterministic");
    const auto other = webhook::check_url_syntax(text, {allow_http, !allow_private});
    check(static_cast<bool>(r) == static_cast<bool>(other),
          "allow_private does not change the syntax check");
    if (!r) {
        check(r.error().kind == core::ErrorKind::invalid_input, "a refusal is invalid_input");
        check(r.error().code == "invalid_webhook_url", "a refusal has the code");
        check(!r.error().message.empty(), "a refusal says why");
        return;
    }
    check(text.size() <= webhook::kMaxUrlLength, "accepted URLs are short enough");
    for (const char c : text) check(c > 0x20 && c < 0x7F, "accepted URLs are printable ASCII");
    check(text.find('#') == std::string_view::npos, "accepted URLs have no fragment");
    check(
        starts_with_nocase(text, "https://") || (allow_http && starts_with_nocase(text, "http://")),
        "accepted URLs use an allowed scheme");
    const auto authority = text.substr(text.find("://") + 3);
    check(authority.substr(0, authority.find_first_of("/?")).find('@') == std::string_view::npos,
          "accepted URLs carry no user name");
    if (!allow_http) {
        check(static_cast<bool>(webhook::check_url_syntax(text, {true, allow_private})),
              "allowing http accepts what https-only accepts");
    }
}

sockaddr_in6 v6(const std::array<std::uint8_t, 16>& bytes) {
    sockaddr_in6 a{};
    a.sin6_family = AF_INET6;
    std::memcpy(&a.sin6_addr, bytes.data(), bytes.size());
    return a;
}

bool internal(const sockaddr_in6& a) {
    return webhook::is_internal_address(reinterpret_cast<const sockaddr*>(&a));
}

void addresses(std::string_view raw) {
    std::array<std::uint8_t, 16> bytes{};
    std::memcpy(bytes.data(), raw.data(), std::min(raw.size(), bytes.size()));
    (void)internal(v6(bytes));

    sockaddr_in four{};
    four.sin_family = AF_INET;
    std::memcpy(&four.sin_addr, bytes.data(), 4);
    const bool v4_internal = webhook::is_internal_address(reinterpret_cast<const sockaddr*>(&four));
    check(v4_internal ==
              !webhook::internal_address_kind(reinterpret_cast<const sockaddr*>(&four)).empty(),
          "is_internal_address agrees with internal_address_kind");

    std::array<std::uint8_t, 16> mapped{};
    mapped[10] = mapped[11] = 0xFF;
    std::memcpy(&mapped[12], bytes.data(), 4);
    check(internal(v6(mapped)) == v4_internal, "IPv4-mapped is judged as IPv4");

    std::array<std::uint8_t, 16> nat64{0x00, 0x64, 0xFF, 0x9B};
    std::memcpy(&nat64[12], bytes.data(), 4);
    check(internal(v6(nat64)) == v4_internal, "NAT64 is judged as IPv4");

    std::array<std::uint8_t, 16> six_to_four{0x20, 0x02};
    std::memcpy(&six_to_four[2], bytes.data(), 4);
    std::memcpy(&six_to_four[6], bytes.data() + 4, 10);
    check(internal(v6(six_to_four)) == v4_internal, "6to4 is judged as its IPv4");

    std::array<std::uint8_t, 16> compatible{};
    std::memcpy(&compatible[12], bytes.data(), 4);
    if (bytes[0] != 0 || bytes[1] != 0 || bytes[2] != 0 || bytes[3] > 1) {
        check(internal(v6(compatible)) == v4_internal, "IPv4-compatible is judged as IPv4");
    } else {
        check(internal(v6(compatible)), ":: and ::1 are internal");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    const auto mode = fuzz::next_byte(rest);
    if ((mode & 4) != 0) {
        addresses(rest);
    } else {
        url(rest, (mode & 1) != 0, (mode & 2) != 0);
    }
    return 0;
}
