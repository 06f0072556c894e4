#include "webhook/destination.hpp"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <string>
#include <vector>

namespace audiodrop::webhook {
namespace {

// A socket address of text such as "10.0.0.1" or "::1".
sockaddr_storage address(const std::string& text) {
    sockaddr_storage s{};
    if (text.find(':') == std::string::npos) {
        auto* in = reinterpret_cast<sockaddr_in*>(&s);
        in->sin_family = AF_INET;
        EXPECT_EQ(inet_pton(AF_INET, text.c_str(), &in->sin_addr), 1) << text;
    } else {
        auto* in6 = reinterpret_cast<sockaddr_in6*>(&s);
        in6->sin6_family = AF_INET6;
        EXPECT_EQ(inet_pton(AF_INET6, text.c_str(), &in6->sin6_addr), 1) << text;
    }
    return s;
}

bool internal(const std::string& text) {
    const auto s = address(text);
    return is_internal_address(reinterpret_cast<const sockaddr*>(&s));
}

std::string kind(const std::string& text) {
    const auto s = address(text);
    return std::string(internal_address_kind(reinterpret_cast<const sockaddr*>(&s)));
}

TEST(Destination, ClassifiesInternalAddresses) {
    for (const char* a :
         {// IPv4
          "0.0.0.0", "0.1.2.3", "10.0.0.0", "10.1.2.3", "10.255.255.255", "100.64.0.0",
          "100.127.255.255", "127.0.0.1", "127.255.255.254", "169.254.0.1", "169.254.169.254",
          "172.16.0.0", "172.31.255.255", "192.168.0.1", "192.168.255.255", "198.18.0.0",
          "198.19.255.255", "224.0.0.1", "239.255.255.250", "240.0.0.1", "255.255.255.255",
          // IPv6
          "::", "::1", "fc00::1", "fd00::1", "fd00:ec2::254", "fdff:ffff::", "fe80::1",
          "febf:ffff::1", "fec0::1", "ff02::1", "ff05::1:3", "64:ff9b:1::1",
          // IPv4 inside IPv6: mapped, compatible, NAT64, 6to4
          "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::ffff:169.254.169.254", "::ffff:0.0.0.0",
          "::127.0.0.1", "::10.0.0.1", "64:ff9b::127.0.0.1", "64:ff9b::a9fe:a9fe",
          "64:ff9b::192.168.1.1", "2002:7f00:1::", "2002:a00:1::1", "2002:a9fe:a9fe::"}) {
        EXPECT_TRUE(internal(a)) << a;
        EXPECT_FALSE(kind(a).empty()) << a;
    }
}

TEST(Destination, LeavesPublicAddressesAlone) {
    for (const char* a :
         {"1.1.1.1",         "8.8.8.8",          "9.255.255.255",        "11.0.0.0",
          "100.63.255.255",  "100.128.0.0",      "126.255.255.255",      "128.0.0.0",
          "169.253.255.255", "169.255.0.0",      "172.15.255.255",       "172.32.0.0",
          "192.167.255.255", "192.169.0.0",      "198.17.255.255",       "198.20.0.0",
          "223.255.255.255", "93.184.216.34",    "2001:4860:4860::8888", "2606:4700::1111",
          "::ffff:8.8.8.8",  "64:ff9b::8.8.8.8", "2002:808:808::",       "fbff::1",
          "fe7f::1"}) {
        EXPECT_FALSE(internal(a)) << a;
        EXPECT_EQ(kind(a), "") << a;
    }
}

TEST(Destination, NamesTheKindOfAddress) {
    EXPECT_EQ(kind("127.0.0.1"), "a loopback address");
    EXPECT_EQ(kind("::1"), "a loopback address");
    EXPECT_EQ(kind("10.0.0.1"), "a private address");
    EXPECT_EQ(kind("::ffff:192.168.1.1"), "a private address");
    EXPECT_EQ(kind("169.254.169.254"), "the cloud metadata address");
    EXPECT_EQ(kind("100.64.1.1"), "a shared (CGNAT) address");
    EXPECT_EQ(kind("fe80::1"), "a link-local address");
    EXPECT_EQ(kind("0.0.0.0"), "an unspecified address");
    EXPECT_EQ(kind("::"), "an unspecified address");
}

TEST(Destination, OtherFamiliesAreInternal) {
    sockaddr_un un{};
    un.sun_family = AF_UNIX;
    EXPECT_TRUE(is_internal_address(reinterpret_cast<const sockaddr*>(&un)));
    EXPECT_TRUE(is_internal_address(nullptr));
}

TEST(Destination, WritesAddressesAsText) {
    auto s = address("10.1.2.3");
    EXPECT_EQ(numeric_address(reinterpret_cast<const sockaddr*>(&s)), "10.1.2.3");
    s = address("fd00:ec2::254");
    EXPECT_EQ(numeric_address(reinterpret_cast<const sockaddr*>(&s)), "fd00:ec2::254");
}

const DestinationPolicy kStrict{};
const DestinationPolicy kHttp{.allow_http = true, .allow_private = false};
const DestinationPolicy kLocal{.allow_http = true, .allow_private = true};

// The refusal's message, or "" when `url` passes the syntax check.
std::string syntax_refusal(std::string_view url, const DestinationPolicy& policy) {
    const auto r = check_url_syntax(url, policy);
    if (r) return {};
    EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
    EXPECT_EQ(r.error().code, "invalid_webhook_url");
    EXPECT_FALSE(r.error().message.empty());
    return r.error().message;
}

TEST(Destination, AcceptsOrdinaryHttpsUrls) {
    for (const char* url :
         {"https://example.com/hook", "https://example.com", "https://example.com:8443/a/b?c=d",
          "HTTPS://Example.COM/hook", "https://[2001:db8::1]/hook", "https://1.2.3.4/x",
          "https://xn--bcher-kva.example/hook", "https://example.com/a%20b"}) {
        EXPECT_EQ(syntax_refusal(url, kStrict), "") << url;
    }
    EXPECT_EQ(syntax_refusal("http://example.com/hook", kHttp), "");
    EXPECT_EQ(syntax_refusal("https://example.com/" + std::string(2028, 'a'), kStrict), "");
}

TEST(Destination, RefusesBadUrlsWithASentence) {
    EXPECT_EQ(syntax_refusal("ftp://example.com/hook", kStrict), "webhook URLs must use https");
    EXPECT_EQ(syntax_refusal("ftp://example.com/hook", kHttp),
              "webhook URLs must use http or https");
    EXPECT_EQ(syntax_refusal("http://example.com/hook", kStrict), "webhook URLs must use https");
    EXPECT_EQ(syntax_refusal("https://user:pass@example.com/hook", kStrict),
              "webhook URLs must not carry a user name or password");
    EXPECT_EQ(syntax_refusal("https://user@example.com/hook", kStrict),
              "webhook URLs must not carry a user name or password");
    EXPECT_EQ(syntax_refusal("https://@example.com/hook", kStrict),
              "webhook URLs must not carry a user name or password");
    EXPECT_EQ(syntax_refusal("https://example.com/hook#frag", kStrict),
              "webhook URLs must not have a fragment (#...)");
    EXPECT_EQ(syntax_refusal("https://example.com/" + std::string(2029, 'a'), kStrict),
              "webhook URLs must be at most 2048 characters long");
    EXPECT_EQ(syntax_refusal("https:///hook", kStrict), "the webhook URL has no host");
    EXPECT_EQ(syntax_refusal("https://", kStrict), "the webhook URL has no host");
    EXPECT_EQ(syntax_refusal("https://?a=b", kStrict), "the webhook URL has no host");
    EXPECT_NE(syntax_refusal("https:/example.com/hook", kStrict), "");
    EXPECT_NE(syntax_refusal("https://:443/hook", kStrict), "");
    for (const std::string& url :
         std::vector<std::string>{"",
                                  "example.com/hook",
                                  "/hook",
                                  "//example.com/hook",
                                  "garbage",
                                  "https:",
                                  "https://exa mple.com/",
                                  "https://example.com/\x01",
                                  "https://ex\xC3\xA4mple.com/",
                                  "https://example.com:0/",
                                  "https://example.com:65536/",
                                  "https://example.com:-1/",
                                  "https://example.com:abc/",
                                  "https://[::1/",
                                  "https://[fe80::1%25eth0]/",
                                  "javascript:alert(1)",
                                  "file:///etc/passwd",
                                  "://example.com/",
                                  "https://example.com\\@evil.com/",
                                  "https://[::1]x/",
                                  "https:/p://127.0.0.1/",
                                  "1https://example.com/",
                                  "https://example.com:443:1/",
                                  "gopher://example.com/",
                                  std::string("https://example.com\0.evil.com/", 30),
                                  "https://exa\nmple.com/",
                                  "https://example.com/x y"}) {
        EXPECT_NE(syntax_refusal(url, kLocal), "") << url;
    }
}

std::string destination_refusal(std::string_view url, const DestinationPolicy& policy) {
    const auto r = check_destination(url, policy);
    if (r) return {};
    EXPECT_EQ(r.error().kind, core::ErrorKind::invalid_input);
    EXPECT_EQ(r.error().code, "invalid_webhook_url");
    return r.error().message;
}

TEST(Destination, RefusesInternalHostsUnlessAllowed) {
    const DestinationPolicy strict_private{.allow_http = false, .allow_private = true};
    for (const char* url :
         {"https://127.0.0.1/hook", "https://localhost/hook", "https://[::1]/hook",
          "https://169.254.169.254/latest/meta-data/", "https://10.1.2.3:8443/hook",
          "https://[::ffff:127.0.0.1]/hook", "https://2130706433/hook", "https://0x7f.1/hook",
          "https://0/hook", "https://[fd00:ec2::254]/"}) {
        const auto message = destination_refusal(url, kStrict);
        EXPECT_NE(message, "") << url;
        EXPECT_NE(message.find("public addresses"), std::string::npos) << message;
        EXPECT_EQ(destination_refusal(url, strict_private), "") << url;
    }
    EXPECT_EQ(destination_refusal("https://127.0.0.1/hook", kStrict),
              "the webhook host 127.0.0.1 is a loopback address; webhooks are only delivered to "
              "public addresses");
    EXPECT_EQ(destination_refusal("https://10.1.2.3/hook", kStrict),
              "the webhook host 10.1.2.3 is a private address; webhooks are only delivered to "
              "public addresses");
    const auto localhost = destination_refusal("https://localhost/hook", kStrict);
    EXPECT_TRUE(localhost.starts_with("the webhook host localhost resolves to ")) << localhost;
    // Syntax first, even for an internal host.
    EXPECT_EQ(destination_refusal("http://127.0.0.1/hook", kStrict), "webhook URLs must use https");
}

TEST(Destination, AcceptsPublicAddressLiteralsWithoutDns) {
    EXPECT_EQ(destination_refusal("https://93.184.216.34/hook", kStrict), "");
    EXPECT_EQ(destination_refusal("https://[2606:4700::1111]/hook", kStrict), "");
}

TEST(Destination, RefusesHostsThatDoNotResolve) {
    // .invalid never resolves (RFC 2606); the resolver answers without the network.
    const auto message = destination_refusal("https://no-such-host.invalid/hook", kLocal);
    EXPECT_TRUE(message.starts_with("the webhook host no-such-host.invalid does not resolve"))
        << message;
}

}  // namespace
}  // namespace audiodrop::webhook
