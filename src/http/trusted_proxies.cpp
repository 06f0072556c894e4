#include "http/trusted_proxies.hpp"

#include <optional>
#include <string>

#include "core/text.hpp"

namespace audiodrop::http {
namespace {

namespace ip = boost::asio::ip;

ip::address unmapped(const ip::address& a) {
    if (a.is_v6() && a.to_v6().is_v4_mapped()) {
        return ip::make_address_v4(ip::v4_mapped, a.to_v6());
    }
    return a;
}

// Only what addresses and prefixes are written with. Boost reads its input as a C
// string, so anything after a NUL would otherwise pass unseen.
bool address_text(std::string_view text) {
    return text.find_first_not_of("0123456789abcdefABCDEF.:/") == std::string_view::npos;
}

std::optional<ip::address> parse_address(std::string_view text) {
    if (!address_text(text)) return std::nullopt;
    boost::system::error_code ec;
    const auto a = ip::make_address(std::string(text), ec);
    if (ec) return std::nullopt;
    return unmapped(a);
}

// One X-Forwarded-For entry: an address, optionally with a port as proxies write it
// ("192.0.2.1:4711", "[2001:db8::1]:4711").
std::optional<ip::address> parse_entry(std::string_view entry) {
    if (entry.starts_with('[')) {
        const auto close = entry.find(']');
        if (close == std::string_view::npos) return std::nullopt;
        const auto rest = entry.substr(close + 1);
        if (!rest.empty() && !rest.starts_with(':')) return std::nullopt;
        return parse_address(entry.substr(1, close - 1));
    }
    if (const auto colon = entry.find(':');
        colon != std::string_view::npos && entry.find(':', colon + 1) == std::string_view::npos) {
        entry = entry.substr(0, colon);  // IPv4 with a port
    }
    return parse_address(entry);
}

// Adds `entry`, a network or a single address, to the lists; false when it is neither.
bool add_entry(const std::string& entry, std::vector<ip::network_v4>& v4,
               std::vector<ip::network_v6>& v6) {
    if (!address_text(entry)) return false;
    if (entry.find('/') == std::string::npos) {
        const auto a = parse_address(entry);
        if (!a) return false;
        if (a->is_v4()) {
            v4.emplace_back(a->to_v4(), 32);
        } else {
            v6.emplace_back(a->to_v6(), 128);
        }
        return true;
    }
    boost::system::error_code ec;
    if (const auto n = ip::make_network_v4(entry, ec); !ec) {
        v4.push_back(n);
        return true;
    }
    if (const auto n = ip::make_network_v6(entry, ec); !ec) {
        v6.push_back(n);
        return true;
    }
    return false;
}

}  // namespace

core::Result<TrustedProxies> TrustedProxies::parse(std::string_view list) {
    TrustedProxies proxies;
    while (!list.empty()) {
        const std::string entry(core::next_list_item(list));
        if (entry.empty()) continue;
        if (add_entry(entry, proxies.v4_, proxies.v6_)) continue;
        return core::make_error(core::ErrorKind::invalid_input, "invalid_trusted_proxies",
                                "'" + entry +
                                    "' is neither an IP address nor a network such as "
                                    "10.0.0.0/8 or 2001:db8::/32");
    }
    return proxies;
}

bool TrustedProxies::trusts(const ip::address& address) const {
    const auto a = unmapped(address);
    if (a.is_v4()) {
        const ip::network_v4 host(a.to_v4(), 32);
        for (const auto& n : v4_) {
            if (host == n || host.is_subnet_of(n)) return true;
        }
        return false;
    }
    const ip::network_v6 host(a.to_v6(), 128);
    for (const auto& n : v6_) {
        if (host == n || host.is_subnet_of(n)) return true;
    }
    return false;
}

ip::address TrustedProxies::client_of(const ip::address& peer,
                                      std::string_view forwarded_for) const {
    ip::address client = unmapped(peer);
    if (!trusts(client)) return client;
    while (!forwarded_for.empty()) {
        const auto comma = forwarded_for.rfind(',');
        const auto entry = core::trim_spaces(
            comma == std::string_view::npos ? forwarded_for : forwarded_for.substr(comma + 1));
        forwarded_for =
            comma == std::string_view::npos ? std::string_view() : forwarded_for.substr(0, comma);
        const auto hop = parse_entry(entry);
        if (!hop) break;
        client = *hop;
        if (!trusts(client)) break;
    }
    return client;
}

}  // namespace audiodrop::http
