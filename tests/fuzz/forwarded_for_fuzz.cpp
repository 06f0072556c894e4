// libFuzzer target: X-Forwarded-For as the server reads it for a connection from a
// trusted proxy (http::TrustedProxies::client_of), and a --trusted-proxies list as
// the server parses it at start (TrustedProxies::parse).
//
// Input: byte 0 picks what the rest is.
//   even: the header's value, for a peer at 10.0.0.1 behind the proxies 10.0.0.0/8
//         and fd00::/8.
//   odd:  a --trusted-proxies list.
//
// Properties beyond "no crash": the client is never an IPv4-mapped IPv6 address; an
// untrusted peer's header is ignored; whatever the header holds, an untrusted address
// appended after it (by the proxy) is the client, also with trusted hops after that.
// A list that parses trusts each single address it names.

#include <boost/asio/ip/address.hpp>
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "fuzz_support.hpp"
#include "http/trusted_proxies.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;
namespace ip = boost::asio::ip;

const http::TrustedProxies& proxies() {
    static const http::TrustedProxies p =
        http::TrustedProxies::parse("10.0.0.0/8, fd00::/8").value();
    return p;
}

bool is_mapped(const ip::address& a) { return a.is_v6() && a.to_v6().is_v4_mapped(); }

void forwarded_for(std::string_view header) {
    const auto peer = ip::make_address("10.0.0.1");
    const auto client = proxies().client_of(peer, header);
    check(!is_mapped(client), "the client is never an IPv4-mapped IPv6 address");

    const auto stranger = ip::make_address("192.0.2.1");
    check(proxies().client_of(stranger, header) == stranger,
          "an untrusted peer's header is ignored");

    // Whatever a client writes first, what the proxies append decides.
    const auto appended = ip::make_address("203.0.113.7");
    const std::string relayed = std::string(header) + ", 203.0.113.7";
    check(proxies().client_of(peer, relayed) == appended,
          "the address the proxy appended is the client");
    check(proxies().client_of(peer, relayed + ",10.9.9.9 , [fd00::1]:80") == appended,
          "trusted hops after the client are passed over");
}

void proxy_list(std::string_view list) {
    const auto parsed = http::TrustedProxies::parse(list);
    if (!parsed) {
        check(!parsed.error().message.empty(), "a refused list says why");
        return;
    }
    // Each entry without a prefix that is an address is trusted.
    while (!list.empty()) {
        const auto comma = list.find(',');
        std::string entry(list.substr(0, comma));
        list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
        const auto first = entry.find_first_not_of(" \t");
        if (first == std::string::npos) continue;
        entry = entry.substr(first, entry.find_last_not_of(" \t") - first + 1);
        boost::system::error_code ec;
        const auto a = ip::make_address(entry, ec);
        if (!ec) check(parsed->trusts(a), "a listed address is trusted");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    std::string_view rest = fuzz::as_text(data, size);
    if (fuzz::next_byte(rest) % 2 == 0) {
        forwarded_for(rest);
    } else {
        proxy_list(rest);
    }
    return 0;
}
