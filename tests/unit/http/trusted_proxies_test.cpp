#include "http/trusted_proxies.hpp"

#include <gtest/gtest.h>

namespace audiodrop::http {
namespace {

namespace ip = boost::asio::ip;

ip::address addr(const char* text) { return ip::make_address(text); }

TrustedProxies proxies(std::string_view list) {
    auto parsed = TrustedProxies::parse(list);
    EXPECT_TRUE(parsed) << parsed.error().message;
    return parsed ? *parsed : TrustedProxies{};
}

TEST(TrustedProxies, ParsesNetworksAndSingleAddresses) {
    const auto p = proxies(" 10.0.0.0/8, 192.0.2.7 ,2001:db8::/32,::1");
    EXPECT_FALSE(p.empty());
    EXPECT_TRUE(p.trusts(addr("10.255.0.1")));
    EXPECT_TRUE(p.trusts(addr("192.0.2.7")));
    EXPECT_FALSE(p.trusts(addr("192.0.2.8")));
    EXPECT_TRUE(p.trusts(addr("2001:db8:1::5")));
    EXPECT_TRUE(p.trusts(addr("::1")));
    EXPECT_FALSE(p.trusts(addr("2001:db9::1")));
    EXPECT_FALSE(p.trusts(addr("11.0.0.1")));
    // A connection to a dual-stack listener shows IPv4 peers mapped into IPv6.
    EXPECT_TRUE(p.trusts(addr("::ffff:10.0.0.1")));
}

TEST(TrustedProxies, AnEmptyListTrustsNoOne) {
    const auto p = proxies("");
    EXPECT_TRUE(p.empty());
    EXPECT_FALSE(p.trusts(addr("127.0.0.1")));
    EXPECT_EQ(p.client_of(addr("127.0.0.1"), "203.0.113.9"), addr("127.0.0.1"));
    EXPECT_TRUE(proxies(" , ").empty());
}

TEST(TrustedProxies, RefusesWhatIsNeitherAnAddressNorANetwork) {
    for (const char* bad :
         {"10.0.0.0/33", "example.com", "10.0.0", "2001:db8::/129", "1.2.3.4/x", "10.0.0.0/8/8"}) {
        auto parsed = TrustedProxies::parse(std::string("192.0.2.1,") + bad);
        ASSERT_FALSE(parsed) << bad;
        EXPECT_EQ(parsed.error().code, "invalid_trusted_proxies");
        EXPECT_NE(parsed.error().message.find(bad), std::string::npos) << parsed.error().message;
    }
}

TEST(TrustedProxies, ANulInsideAnEntryIsNotCutOff) {
    // Found by fuzzing: Boost parses up to the NUL, so "192.0.2.7<NUL>junk" read as
    // 192.0.2.7 and "91.0.2.7<NUL>.. 5/8" as a network.
    using namespace std::string_literals;
    for (const std::string& bad : {"192.0.2.7\0junk"s, "91.0.2.7\0\x14\0 5/8"s, "::1\0"s}) {
        auto parsed = TrustedProxies::parse(bad);
        EXPECT_FALSE(parsed) << bad.size();
    }
    const auto p = proxies("10.0.0.0/8");
    EXPECT_EQ(p.client_of(addr("10.0.0.2"), "203.0.113.9\0junk"s), addr("10.0.0.2"));
}

TEST(TrustedProxies, AnUntrustedPeerIsTheClientWhateverItClaims) {
    const auto p = proxies("10.0.0.0/8");
    EXPECT_EQ(p.client_of(addr("192.0.2.1"), "203.0.113.9"), addr("192.0.2.1"));
}

// What a request from a load balancer at 10.0.0.2 (in the trusted 10.0.0.0/8) with
// this X-Forwarded-For is counted as coming from.
struct Relayed {
    const char* forwarded_for;
    const char* client;
};

void expect_clients(std::initializer_list<Relayed> cases) {
    const auto p = proxies("10.0.0.0/8");
    for (const auto& c : cases) {
        EXPECT_EQ(p.client_of(addr("10.0.0.2"), c.forwarded_for), addr(c.client))
            << "X-Forwarded-For: " << c.forwarded_for;
    }
}

TEST(TrustedProxies, TheClientIsTheRightmostAddressThatIsNotAProxy) {
    expect_clients({
        {"203.0.113.9", "203.0.113.9"},
        // The client wrote the first entry itself; the load balancers appended the rest.
        {"198.51.100.1, 203.0.113.9, 10.0.0.7", "203.0.113.9"},
        {"2001:db8::5", "2001:db8::5"},
        {"::ffff:203.0.113.9", "203.0.113.9"},
        // Ports, as some proxies write them, are dropped.
        {"203.0.113.9:4711", "203.0.113.9"},
        {"[2001:db8::5]:4711", "2001:db8::5"},
        {"[2001:db8::5]", "2001:db8::5"},
    });
}

TEST(TrustedProxies, AnEntryThatIsNotAnAddressEndsTheWalkAtTheLastProxy) {
    expect_clients({
        {"", "10.0.0.2"},
        {"unknown", "10.0.0.2"},
        {"203.0.113.9, garbage, 10.0.0.7", "10.0.0.7"},
        {"203.0.113.9,,", "10.0.0.2"},
        {"[2001:db8::5", "10.0.0.2"},
        {"[2001:db8::5]x", "10.0.0.2"},
        // All proxies: the farthest one is as near the client as we can tell.
        {"10.0.0.9, 10.0.0.7", "10.0.0.9"},
    });
}

}  // namespace
}  // namespace audiodrop::http
