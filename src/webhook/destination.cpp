#include "webhook/destination.hpp"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netdb.h>
#include <netinet/in.h>

#include <array>
#include <cctype>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <optional>
#include <string>

namespace audiodrop::webhook {
namespace {

constexpr std::string_view kCode = "invalid_webhook_url";
// RFC 3986 section 3.1: scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ).
constexpr std::string_view kSchemeCharacters =
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789+-.";

core::Error invalid(std::string message) {
    return core::make_error(core::ErrorKind::invalid_input, std::string(kCode), std::move(message));
}

std::string_view v4_kind(std::uint32_t a) {
    if (a == 0) return "an unspecified address";
    if ((a >> 24) == 0) return "a reserved address (0.0.0.0/8)";
    if ((a >> 24) == 10) return "a private address";
    if ((a & 0xFFC00000u) == 0x64400000u) return "a shared (CGNAT) address";
    if ((a >> 24) == 127) return "a loopback address";
    if (a == 0xA9FEA9FEu) return "the cloud metadata address";
    if ((a & 0xFFFF0000u) == 0xA9FE0000u) return "a link-local address";
    if ((a & 0xFFF00000u) == 0xAC100000u) return "a private address";
    if ((a & 0xFFFF0000u) == 0xC0A80000u) return "a private address";
    if ((a & 0xFFFE0000u) == 0xC6120000u) return "a benchmarking address";
    if ((a & 0xF0000000u) == 0xE0000000u) return "a multicast address";
    if (a == 0xFFFFFFFFu) return "the broadcast address";
    if ((a & 0xF0000000u) == 0xF0000000u) return "a reserved address (240.0.0.0/4)";
    return {};
}

std::uint32_t v4_at(const std::uint8_t* b) {
    return (std::uint32_t{b[0]} << 24) | (std::uint32_t{b[1]} << 16) | (std::uint32_t{b[2]} << 8) |
           std::uint32_t{b[3]};
}

bool all_zero(const std::uint8_t* b, std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
        if (b[i] != 0) return false;
    }
    return true;
}

std::string_view v6_kind(const std::array<std::uint8_t, 16>& b) {
    if (all_zero(b.data(), 16)) return "an unspecified address";
    if (all_zero(b.data(), 15) && b[15] == 1) return "a loopback address";
    // Forms that carry an IPv4 address and reach it: judged as that address.
    if (all_zero(b.data(), 10) && b[10] == 0xFF && b[11] == 0xFF) return v4_kind(v4_at(&b[12]));
    if (all_zero(b.data(), 12)) return v4_kind(v4_at(&b[12]));  // ::a.b.c.d (compatible)
    constexpr std::array<std::uint8_t, 4> nat64{0x00, 0x64, 0xFF, 0x9B};
    if (std::memcmp(b.data(), nat64.data(), 4) == 0) {
        if (all_zero(&b[4], 8)) return v4_kind(v4_at(&b[12]));  // 64:ff9b::/96 (RFC 6052)
        if (b[4] == 0x00 && b[5] == 0x01) return "a local NAT64 address";  // 64:ff9b:1::/48
    }
    if (b[0] == 0x20 && b[1] == 0x02) return v4_kind(v4_at(&b[2]));  // 6to4 (RFC 3056)
    if ((b[0] & 0xFE) == 0xFC) return "a unique local (private) address";
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0x80) return "a link-local address";
    if (b[0] == 0xFE && (b[1] & 0xC0) == 0xC0) return "a site-local address";
    if (b[0] == 0xFF) return "a multicast address";
    return {};
}

struct UrlDeleter {
    void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using Url = std::unique_ptr<CURLU, UrlDeleter>;

// A part of a parsed URL; nullopt when the URL has none.
std::optional<std::string> part(CURLU* url, CURLUPart which) {
    char* text = nullptr;
    if (curl_url_get(url, which, &text, 0) != CURLUE_OK || text == nullptr) return std::nullopt;
    std::string out(text);
    curl_free(text);
    return out;
}

// The authority as written ("user@host:port"), for what libcurl might normalise away.
std::string_view raw_authority(std::string_view url) {
    const auto rest = url.substr(url.find("://") + 3);
    return rest.substr(0, rest.find_first_of("/?#"));
}

// The host of a syntactically acceptable URL, without IPv6 brackets.
core::Result<std::string> parse_host(std::string_view text, const DestinationPolicy& policy) {
    if (text.empty()) return invalid("the webhook URL is empty");
    if (text.size() > kMaxUrlLength) {
        return invalid("webhook URLs must be at most " + std::to_string(kMaxUrlLength) +
                       " characters long");
    }
    for (const char c : text) {
        // Also keeps a NUL from cutting the C string libcurl reads.
        if (c <= 0x20 || c >= 0x7F) {
            return invalid(
                "webhook URLs must be printable ASCII without spaces (percent-encode other "
                "characters, write the host in punycode)");
        }
    }
    if (text.find('#') != std::string_view::npos) {
        return invalid("webhook URLs must not have a fragment (#...)");
    }
    // libcurl, like browsers, reads "https:/host" and "https:///host" as "https://host";
    // a subscription URL is written out in full.
    const auto scheme_end = text.find("://");
    if (scheme_end == std::string_view::npos || scheme_end == 0 ||
        !std::isalpha(static_cast<unsigned char>(text.front())) ||
        text.substr(0, scheme_end).find_first_not_of(kSchemeCharacters) != std::string_view::npos) {
        return invalid("the webhook URL is not an absolute URL such as https://example.com/hook");
    }
    if (scheme_end + 3 == text.size() || text.substr(scheme_end + 3, 1).find_first_of("/?") == 0) {
        return invalid("the webhook URL has no host");
    }
    const Url url(curl_url());
    if (!url) throw std::bad_alloc();
    const std::string copy(text);
    // Any scheme parses, so an unwanted one gets the message about schemes.
    const CURLUcode rc =
        curl_url_set(url.get(), CURLUPART_URL, copy.c_str(), CURLU_NON_SUPPORT_SCHEME);
    switch (rc) {
        case CURLUE_OK:
            break;
        case CURLUE_NO_HOST:
            return invalid("the webhook URL has no host");
        case CURLUE_BAD_PORT_NUMBER:
            return invalid("the webhook URL's port is not a number from 1 to 65535");
        case CURLUE_BAD_SCHEME:
        case CURLUE_NO_SCHEME:
            return invalid(
                "the webhook URL is not an absolute URL such as https://example.com/hook");
        default:
            return invalid(std::string("the webhook URL is not a valid URL: ") +
                           curl_url_strerror(rc));
    }
    const auto scheme = part(url.get(), CURLUPART_SCHEME).value_or("");
    std::string written(text.substr(0, scheme_end));
    for (auto& c : written) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (written != scheme) {
        return invalid("the webhook URL is not an absolute URL such as https://example.com/hook");
    }
    if (scheme != "https" && !(policy.allow_http && scheme == "http")) {
        return invalid(policy.allow_http ? "webhook URLs must use http or https"
                                         : "webhook URLs must use https");
    }
    if (part(url.get(), CURLUPART_USER) || part(url.get(), CURLUPART_PASSWORD) ||
        part(url.get(), CURLUPART_OPTIONS) ||
        raw_authority(text).find('@') != std::string_view::npos) {
        return invalid("webhook URLs must not carry a user name or password");
    }
    auto host = part(url.get(), CURLUPART_HOST).value_or("");
    if (host.empty() || host == "[]") return invalid("the webhook URL has no host");
    if (part(url.get(), CURLUPART_ZONEID)) {
        return invalid("webhook URLs must not name an IPv6 zone");
    }
    if (const auto port = part(url.get(), CURLUPART_PORT)) {
        if (port->empty() || port->find_first_not_of('0') == std::string::npos) {
            return invalid("the webhook URL's port is not a number from 1 to 65535");
        }
    }
    if (part(url.get(), CURLUPART_FRAGMENT)) {
        return invalid("webhook URLs must not have a fragment (#...)");
    }
    if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
        host = host.substr(1, host.size() - 2);
    }
    return host;
}

struct AddrInfoDeleter {
    void operator()(addrinfo* a) const { freeaddrinfo(a); }
};

}  // namespace

std::string_view internal_address_kind(const sockaddr* address) {
    if (address == nullptr) return "not an IP address";
    if (address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        return v4_kind(ntohl(in.sin_addr.s_addr));
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        std::array<std::uint8_t, 16> bytes{};
        std::memcpy(bytes.data(), &in6.sin6_addr, bytes.size());
        return v6_kind(bytes);
    }
    return "not an IP address";
}

bool is_internal_address(const sockaddr* address) {
    return !internal_address_kind(address).empty();
}

std::string numeric_address(const sockaddr* address) {
    char text[INET6_ADDRSTRLEN] = {};
    if (address != nullptr && address->sa_family == AF_INET) {
        sockaddr_in in{};
        std::memcpy(&in, address, sizeof in);
        if (inet_ntop(AF_INET, &in.sin_addr, text, sizeof text) != nullptr) return text;
    } else if (address != nullptr && address->sa_family == AF_INET6) {
        sockaddr_in6 in6{};
        std::memcpy(&in6, address, sizeof in6);
        if (inet_ntop(AF_INET6, &in6.sin6_addr, text, sizeof text) != nullptr) return text;
    }
    return "?";
}

core::Result<void> check_url_syntax(std::string_view url, const DestinationPolicy& policy) {
    AUDIODROP_TRY(parse_host(url, policy));
    return {};
}

core::Result<void> check_destination(std::string_view url, const DestinationPolicy& policy) {
    AUDIODROP_TRY_ASSIGN(const std::string host, parse_host(url, policy));
    addrinfo hints{};
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    addrinfo* found = nullptr;
    if (const int rc = getaddrinfo(host.c_str(), nullptr, &hints, &found); rc != 0) {
        if (rc == EAI_AGAIN) {
            // The resolver failed, not the URL: worth a retry, not a correction.
            auto e =
                core::make_error(core::ErrorKind::unavailable, "dns_unavailable",
                                 "the webhook host " + host + " could not be resolved just now (" +
                                     gai_strerror(rc) + "); retry shortly",
                                 core::Reason::resolver_unavailable);
            e.retry_after_seconds = 5;
            return e;
        }
        return invalid("the webhook host " + host + " does not resolve (" + gai_strerror(rc) + ")");
    }
    const std::unique_ptr<addrinfo, AddrInfoDeleter> addresses(found);
    if (addresses == nullptr) return invalid("the webhook host " + host + " does not resolve");
    if (policy.allow_private) return {};
    for (const addrinfo* a = addresses.get(); a != nullptr; a = a->ai_next) {
        const auto kind = internal_address_kind(a->ai_addr);
        if (kind.empty()) continue;
        const std::string address = numeric_address(a->ai_addr);
        const std::string what =
            address == host
                ? "the webhook host " + host + " is " + std::string(kind)
                : "the webhook host " + host + " resolves to " + address + ", " + std::string(kind);
        return invalid(what + "; webhooks are only delivered to public addresses");
    }
    return {};
}

}  // namespace audiodrop::webhook
