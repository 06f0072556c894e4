// Options found unsafe by the config-file fuzz target (tests/fuzz/config_file_fuzz.cpp).

#include "server/options.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

namespace audiodrop::server {
namespace {

// Parses `args` after the program name as main does; false when CLI11 refuses them.
bool parse(std::vector<std::string> args, core::Config& config, OptionValues& values) {
    CLI::App app{"audiodrop-server"};
    add_config_options(app, config, values);
    app.add_subcommand("serve", "")->fallthrough();
    args.insert(args.begin(), "audiodrop-server");
    args.emplace_back("serve");
    std::vector<const char*> argv;
    for (const auto& a : args) argv.push_back(a.c_str());
    try {
        app.parse(static_cast<int>(argv.size()), argv.data());
    } catch (const CLI::ParseError&) {
        return false;
    }
    return true;
}

// A lifetime in seconds that ends past 2262 overflowed `now + ttl` in 64-bit
// nanoseconds (signed overflow) on every token issued or connection timed.
TEST(OptionsFuzzRegression, RefusesDurationsTheClocksCannotAdd) {
    for (const char* flag : {"--partner-token-ttl", "--user-token-max-ttl", "--sweep-interval",
                             "--idle-timeout", "--request-timeout", "--shutdown-grace"}) {
        core::Config config;
        OptionValues values;
        EXPECT_FALSE(parse({flag, "99999999999"}, config, values)) << flag;
        EXPECT_FALSE(parse({flag, "9223372036854775807"}, config, values)) << flag;
        EXPECT_TRUE(parse({flag, "315360000"}, config, values)) << flag;  // ten years
        EXPECT_FALSE(finish_config(config, values)) << flag;
    }
}

TEST(OptionsFuzzRegression, RefusesThemInAConfigFileToo) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("audiodrop-options-test-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << "idle-timeout = 99999999999\n";
    core::Config config;
    OptionValues values;
    EXPECT_FALSE(parse({"--config", path.string()}, config, values));
    std::filesystem::remove(path);
}

TEST(Options, TrustedProxiesMustBeAddressesOrNetworks) {
    core::Config config;
    OptionValues values;
    ASSERT_TRUE(parse({"--trusted-proxies", "10.0.0.0/8,lb.example.com"}, config, values));
    const auto problem = finish_config(config, values);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->find("lb.example.com"), std::string::npos) << *problem;

    core::Config good;
    ASSERT_TRUE(parse({"--trusted-proxies", "10.0.0.0/8, 2001:db8::/32"}, good, values));
    EXPECT_EQ(good.trusted_proxies, "10.0.0.0/8, 2001:db8::/32");
}

// --demo, like every option: the flag, then AUDIODROP_DEMO, then the config file.
TEST(Options, DemoComesFromTheFlagTheEnvironmentOrTheFile) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("audiodrop-demo-test-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << "demo = true\n";
    OptionValues values;
    core::Config from_file;
    ASSERT_TRUE(parse({"--config", path.string()}, from_file, values));
    EXPECT_TRUE(from_file.demo);

    ::setenv("AUDIODROP_DEMO", "false", 1);
    core::Config env_over_file;
    ASSERT_TRUE(parse({"--config", path.string()}, env_over_file, values));
    EXPECT_FALSE(env_over_file.demo);
    core::Config flag_over_env;
    ASSERT_TRUE(parse({"--demo"}, flag_over_env, values));
    EXPECT_TRUE(flag_over_env.demo);
    ::setenv("AUDIODROP_DEMO", "true", 1);
    core::Config from_env;
    ASSERT_TRUE(parse({}, from_env, values));
    EXPECT_TRUE(from_env.demo);
    ::unsetenv("AUDIODROP_DEMO");

    core::Config by_default;
    ASSERT_TRUE(parse({}, by_default, values));
    EXPECT_FALSE(by_default.demo);
    std::filesystem::remove(path);
}

// A listener with half its TLS files would serve plain HTTP where the operator meant
// HTTPS, or not start for a reason found only later: both are refused up front.
TEST(Options, TlsNeedsACertificateAndItsKey) {
    for (const auto& [given, missing] : std::vector<std::pair<std::string, std::string>>{
             {"--tls-cert", "--tls-key"},
             {"--tls-key", "--tls-cert"},
             {"--storage-tls-cert", "--storage-tls-key"},
             {"--storage-tls-key", "--storage-tls-cert"}}) {
        core::Config config;
        OptionValues values;
        ASSERT_TRUE(parse({given, "/etc/audiodrop/tls.pem"}, config, values)) << given;
        const auto problem = finish_config(config, values);
        ASSERT_TRUE(problem) << given;
        EXPECT_NE(problem->find(missing), std::string::npos) << *problem;
    }
    core::Config both;
    OptionValues values;
    ASSERT_TRUE(parse({"--tls-cert", "c.pem", "--tls-key", "k.pem", "--storage-tls-cert", "c.pem",
                       "--storage-tls-key", "k.pem"},
                      both, values));
    EXPECT_FALSE(finish_config(both, values));
    EXPECT_EQ(both.tls_handshake_timeout, std::chrono::seconds(10));
}

TEST(Options, StorageTlsNeedsTheEmbeddedEndpoint) {
    core::Config config;
    OptionValues values;
    ASSERT_TRUE(parse({"--storage-tls-cert", "c.pem", "--storage-tls-key", "k.pem", "--s3-endpoint",
                       "https://s3.example.com", "--s3-bucket", "b", "--s3-access-key", "a",
                       "--s3-secret-key", "s"},
                      config, values));
    const auto problem = finish_config(config, values);
    ASSERT_TRUE(problem);
    EXPECT_NE(problem->find("--s3-endpoint"), std::string::npos) << *problem;
}

TEST(Options, TlsFilesComeFromTheFlagTheEnvironmentOrTheFile) {
    const auto path = std::filesystem::temp_directory_path() /
                      ("audiodrop-tls-test-" + std::to_string(::getpid()) + ".toml");
    std::ofstream(path) << "tls-cert = \"/file/cert.pem\"\ntls-key = \"/file/key.pem\"\n"
                        << "tls-handshake-timeout = 3\n";
    OptionValues values;
    ::setenv("AUDIODROP_TLS_CERT", "/env/cert.pem", 1);
    core::Config config;
    ASSERT_TRUE(parse({"--config", path.string(), "--tls-key", "/flag/key.pem"}, config, values));
    ASSERT_FALSE(finish_config(config, values));
    ::unsetenv("AUDIODROP_TLS_CERT");
    EXPECT_EQ(config.tls_cert, "/env/cert.pem");
    EXPECT_EQ(config.tls_key, "/flag/key.pem");
    EXPECT_EQ(config.tls_handshake_timeout, std::chrono::seconds(3));
    std::filesystem::remove(path);
}

}  // namespace
}  // namespace audiodrop::server
