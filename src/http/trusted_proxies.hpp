#pragma once

#include <boost/asio/ip/address.hpp>
#include <boost/asio/ip/network_v4.hpp>
#include <boost/asio/ip/network_v6.hpp>
#include <string_view>
#include <vector>

#include "core/error.hpp"

namespace audiodrop::http {

// The proxies (load balancers) whose word on who their client is we take: for a
// connection from one of them, a request's client is read from X-Forwarded-For, so
// that per-address limits count the clients behind it rather than the proxy itself.
// Everyone else's X-Forwarded-For is ignored: a client cannot choose its own address.
class TrustedProxies {
  public:
    TrustedProxies() = default;  // trusts no one

    // A comma-separated list of networks ("10.0.0.0/8", "2001:db8::/32") and single
    // addresses; empty trusts no one. invalid_input "invalid_trusted_proxies" naming
    // the entry that is neither.
    static core::Result<TrustedProxies> parse(std::string_view list);

    bool empty() const { return v4_.empty() && v6_.empty(); }
    bool trusts(const boost::asio::ip::address& address) const;

    // Who a request from `peer` comes from, given its X-Forwarded-For values joined
    // with commas. `peer` itself unless trusted; otherwise the header is read from its
    // right end, where the nearest proxy appended what it saw, past every trusted
    // proxy: the first address that is not one is the client. An entry that is not an
    // address ends the walk at the last trusted hop. IPv4-mapped IPv6 comes back as IPv4.
    boost::asio::ip::address client_of(const boost::asio::ip::address& peer,
                                       std::string_view forwarded_for) const;

  private:
    std::vector<boost::asio::ip::network_v4> v4_;
    std::vector<boost::asio::ip::network_v6> v6_;
};

}  // namespace audiodrop::http
