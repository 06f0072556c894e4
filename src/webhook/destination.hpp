#pragma once

// Where a webhook may be delivered: the SSRF policy for subscription URLs.
//
// A subscriber names any URL it likes, and the service then makes requests to it from
// inside our network, so a URL must never lead to an internal address (loopback, private
// networks, cloud metadata at 169.254.169.254 / fd00:ec2::254, ...). The policy is
// checked twice: when a subscription is created (check_destination, with DNS), and by
// the sender on every connection it opens (is_internal_address on the address actually
// connected to), so a name that later resolves elsewhere (DNS rebinding) gains nothing.

#include <sys/socket.h>

#include <string>
#include <string_view>

#include "core/error.hpp"

namespace audiodrop::webhook {

struct DestinationPolicy {
    bool allow_http = false;     // plain http:// (tests, local development)
    bool allow_private = false;  // internal addresses too (tests, on-premises receivers)
};

// The longest subscription URL accepted.
inline constexpr std::size_t kMaxUrlLength = 2048;

// True for addresses a webhook must never reach unless allow_private:
//   IPv4: 0/8 (incl. unspecified), 10/8, 100.64/10 (CGNAT), 127/8, 169.254/16 (link-local,
//         incl. the 169.254.169.254 metadata service), 172.16/12, 192.168/16,
//         198.18/15 (benchmarking), 224/4 (multicast), 240/4 (reserved, incl. broadcast).
//   IPv6: ::, ::1, fc00::/7 (unique local, incl. AWS's fd00:ec2::254), fec0::/10 (old
//         site-local), fe80::/10, ff00::/8, 64:ff9b:1::/48 (local NAT64); and the IPv4
//         embedded in ::ffff:0:0/96 (mapped), ::/96 (compatible), 64:ff9b::/96 (NAT64)
//         and 2002::/16 (6to4) is judged as IPv4.
// Any family other than AF_INET and AF_INET6 counts as internal.
bool is_internal_address(const sockaddr* address);

// What kind of internal address this is ("a loopback address", "a private address",
// ...), for messages; empty when is_internal_address() is false.
std::string_view internal_address_kind(const sockaddr* address);

// The address as text for messages ("10.0.0.1", "::1"); "?" for another family.
std::string numeric_address(const sockaddr* address);

// Checks a subscription URL: check_url_syntax(), then resolves its host (getaddrinfo,
// BLOCKING: run it on a worker) and refuses it when it does not resolve or when ANY of
// its addresses is internal (unless policy.allow_private). Errors are
// ErrorKind::invalid_input with code "invalid_webhook_url" and a sentence naming the
// problem, or unavailable "dns_unavailable" (Reason::resolver_unavailable) when the
// resolver failed for now. Thread-safe.
core::Result<void> check_destination(std::string_view url, const DestinationPolicy& policy);

// The syntax part alone, without DNS: an absolute URL of at most kMaxUrlLength
// characters, printable ASCII only, scheme https (or http with allow_http), a host, no
// user name or password, an optional port 1-65535, no fragment. Parsed with libcurl's
// URL parser, the same the sender uses. Errors as check_destination. Thread-safe.
core::Result<void> check_url_syntax(std::string_view url, const DestinationPolicy& policy);

}  // namespace audiodrop::webhook
