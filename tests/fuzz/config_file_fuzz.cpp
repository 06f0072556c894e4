// libFuzzer target: a --config file (TOML or INI) as audiodrop-server reads it: CLI11
// with every option server::add_config_options declares and main's subcommands, given
// "--config <file> serve", then server::finish_config. The file is rewritten in
// place for each input, and one App parses them all (no process per run).
//
// Input: the file's contents.
//
// Properties beyond "no crash": reading a config file throws nothing but CLI::ParseError,
// the one exception main catches; a configuration finish_config accepts has a base path
// that starts and does not end with '/', URLs without a trailing '/', presigned URLs'
// TTLs within S3's 7 days, every other duration positive and ending, from now, before
// 2100 (beyond, clock arithmetic in nanoseconds overflows, and tokens do not verify),
// and region hosts parsed from region=URL.

#include <sys/mman.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "server/options.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

// The config file: an in-memory file (memfd) named by its /proc/self/fd path, rewritten
// for each input, so nothing is left behind however a run ends.
class ConfigFile {
  public:
    ConfigFile()
        : fd_(::memfd_create("audiodrop-config-fuzz", 0)),
          path_("/proc/self/fd/" + std::to_string(fd_)) {
        check(fd_ >= 0, "an in-memory config file can be made");
    }
    ConfigFile(const ConfigFile&) = delete;
    ConfigFile& operator=(const ConfigFile&) = delete;

    void write(const std::uint8_t* data, std::size_t size) {
        check(::ftruncate(fd_, 0) == 0 &&
                  ::pwrite(fd_, data, size, 0) == static_cast<::ssize_t>(size),
              "the config file can be written");
    }
    const std::string& path() const { return path_; }

  private:
    int fd_;
    std::string path_;
};

// main's CLI::App, declared once (it takes far longer to build than to parse with):
// before each parse its results are cleared and the options' targets set back to their
// defaults, as a fresh one would have them.
struct ServerOptions {
    ServerOptions() {
        app.require_subcommand(1);
        server::add_config_options(app, config, values);
        app.add_subcommand("serve", "Run the API")->fallthrough();
        auto* partner = app.add_subcommand("partner", "Manage partner credentials");
        partner->require_subcommand(1);
        partner->fallthrough();
        auto* create = partner->add_subcommand("create", "Provision a partner");
        create->fallthrough();
        create->add_option("--name", name, "Partner name")->required();
        default_config = config;
        default_values = values;
    }
    void reset() {
        app.clear();
        config = default_config;
        values = default_values;
        name.clear();
    }

    CLI::App app{"audiodrop-server"};
    core::Config config, default_config;
    server::OptionValues values, default_values;
    std::string name;
};

void check_accepted(const core::Config& c) {
    check(c.base_path.starts_with('/') && !c.base_path.ends_with('/'), "the base path is /x");
    check(!c.public_url.ends_with('/') && !c.storage_public_url.ends_with('/') &&
              !c.s3_endpoint.ends_with('/'),
          "URLs have no trailing '/'");
    check(c.upload_ttl.count() > 0 && c.upload_ttl.count() <= 7 * 24 * 3600 &&
              c.download_url_ttl.count() > 0 && c.download_url_ttl.count() <= 7 * 24 * 3600,
          "presigned URLs' TTLs are within 1 s and 7 days");
    // The server adds each to a clock reading (now + ttl, expires_after) in 64-bit
    // nanoseconds, and signs token lifetimes that the verifier takes only up to 2100.
    constexpr std::int64_t k2100 = 4102444800;
    for (const auto duration : {c.sweep_interval, c.partner_token_ttl, c.user_token_max_ttl,
                                c.idle_timeout, c.request_timeout, c.shutdown_grace}) {
        check(duration.count() > 0 && duration.count() <= k2100 - core::to_unix(fuzz::kNow),
              "durations are positive and end before 2100");
    }
    for (const auto& [region, host] : c.region_hosts) {
        check(!region.empty() && region.find('=') == std::string::npos,
              "a region host is region=URL");
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static ConfigFile file;
    static ServerOptions options;
    file.write(data, size);
    options.reset();
    const char* const argv[] = {"audiodrop-server", "--config", file.path().c_str(), "serve"};
    try {
        options.app.parse(4, argv);
    } catch (const CLI::ParseError&) {
        return 0;  // main prints it and exits 2
    }
    if (!server::finish_config(options.config, options.values)) check_accepted(options.config);
    return 0;
}
