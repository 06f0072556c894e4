#include "http/connection_gate.hpp"

#include <gtest/gtest.h>

#include <thread>
#include <vector>

namespace audiodrop::http {
namespace {

using Verdict = ConnectionGate::Verdict;
namespace ip = boost::asio::ip;

TEST(ConnectionGate, CapsEachAddressAndGivesPlacesBack) {
    ConnectionGate gate(0, 2);
    const auto a = ip::make_address("192.0.2.1");
    const auto b = ip::make_address("192.0.2.2");
    ConnectionGate::Ticket t1, t2, t3, t4;
    EXPECT_EQ(gate.admit(a, t1), Verdict::admitted);
    EXPECT_EQ(gate.admit(a, t2), Verdict::admitted);
    EXPECT_EQ(gate.admit(a, t3), Verdict::address_full);
    EXPECT_EQ(gate.admit(b, t4), Verdict::admitted);
    EXPECT_EQ(gate.open(), 3u);
    t1 = ConnectionGate::Ticket{};
    EXPECT_EQ(gate.open(), 2u);
    EXPECT_EQ(gate.admit(a, t3), Verdict::admitted);
}

TEST(ConnectionGate, TrustedProxiesAreHeldOnlyByTheTotal) {
    ConnectionGate gate(4, 1, TrustedProxies::parse("10.0.0.0/8").value());
    const auto proxy = ip::make_address("10.1.2.3");
    ConnectionGate::Ticket t1, t2, t3, t4, t5;
    EXPECT_EQ(gate.admit(proxy, t1), Verdict::admitted);
    EXPECT_EQ(gate.admit(proxy, t2), Verdict::admitted);
    EXPECT_EQ(gate.admit(proxy, t3), Verdict::admitted);
    EXPECT_EQ(gate.admit(ip::make_address("192.0.2.1"), t4), Verdict::admitted);
    EXPECT_EQ(gate.admit(proxy, t5), Verdict::total_full);
}

TEST(ConnectionGate, CapsTheTotal) {
    ConnectionGate gate(2, 0);
    ConnectionGate::Ticket t1, t2, t3;
    EXPECT_EQ(gate.admit(ip::make_address("192.0.2.1"), t1), Verdict::admitted);
    EXPECT_EQ(gate.admit(ip::make_address("192.0.2.2"), t2), Verdict::admitted);
    EXPECT_EQ(gate.admit(ip::make_address("192.0.2.3"), t3), Verdict::total_full);
    {
        ConnectionGate::Ticket moved = std::move(t2);
        EXPECT_EQ(gate.open(), 2u);
    }
    EXPECT_EQ(gate.open(), 1u);
    EXPECT_EQ(gate.admit(ip::make_address("192.0.2.3"), t3), Verdict::admitted);
}

TEST(ConnectionGate, CountsIpv6PerSlash64AndMappedIpv4AsIpv4) {
    EXPECT_EQ(address_key(ip::make_address("2001:db8:1:2:aaaa::1")),
              address_key(ip::make_address("2001:db8:1:2:bbbb::2")));
    EXPECT_NE(address_key(ip::make_address("2001:db8:1:2::1")),
              address_key(ip::make_address("2001:db8:1:3::1")));
    EXPECT_EQ(address_key(ip::make_address("::ffff:192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(address_key(ip::make_address("192.0.2.7")), "192.0.2.7");
    EXPECT_EQ(address_key(ip::make_address("2001:db8::1")), "2001:db8:0:0::/64");
}

TEST(ConnectionGate, ThreadsAdmittingAndReleasingLeaveItEmpty) {
    ConnectionGate gate(1000, 100);
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t) {
        threads.emplace_back([&gate, t] {
            const auto from = ip::make_address("192.0.2." + std::to_string(t + 1));
            for (int i = 0; i < 10000; ++i) {
                ConnectionGate::Ticket ticket;
                ASSERT_EQ(gate.admit(from, ticket), Verdict::admitted);
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(gate.open(), 0u);
}

}  // namespace
}  // namespace audiodrop::http
