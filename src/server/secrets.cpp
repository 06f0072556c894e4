#include "server/secrets.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>

#include "core/hashing.hpp"

namespace audiodrop::server {
namespace {

namespace fs = std::filesystem;
using core::ErrorKind;
using core::make_error;

core::Error io_error(const std::string& what) {
    return make_error(ErrorKind::unavailable, "secrets_unavailable", what);
}

std::string random_token(std::size_t bytes) {
    return core::base64url_encode(core::random_bytes(bytes));
}

core::Result<void> write_atomically(const fs::path& path, const std::string& text) {
    const auto tmp = path.string() + ".tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("cannot create " + tmp + ": " + std::strerror(errno));
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                    ::fsync(fd) == 0;
    ::close(fd);
    if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
        return io_error("cannot write " + path.string() + ": " + std::strerror(errno));
    }
    return {};
}

}  // namespace

core::Result<void> load_or_create_secrets(core::Config& config) {
    const fs::path path = fs::path(config.data_dir) / "secrets.json";
    nlohmann::json stored = nlohmann::json::object();
    if (fs::exists(path)) {
        std::ifstream in(path);
        stored = nlohmann::json::parse(in, nullptr, false);
        if (stored.is_discarded() || !stored.is_object()) {
            return io_error(path.string() + " is not valid JSON; restore it from a backup");
        }
    }
    bool changed = false;
    const auto fill = [&](std::string& value, const char* name, std::string generated) {
        if (!value.empty()) return;
        if (auto it = stored.find(name); it != stored.end() && it->is_string()) {
            value = it->get<std::string>();
            return;
        }
        value = std::move(generated);
        stored[name] = value;
        changed = true;
    };
    // S3 access keys are 20 uppercase alphanumerics; ours look the same.
    std::string access_key = "AD";
    for (unsigned char c : core::random_bytes(18))
        access_key.push_back("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[c % 32]);
    if (config.s3_endpoint.empty()) {  // only the embedded store signs with these
        fill(config.storage_access_key, "storage_access_key", access_key);
        fill(config.storage_secret_key, "storage_secret_key", random_token(30));
    }
    fill(config.token_signing_key, "token_signing_key", random_token(32));
    if (!changed) return {};
    std::error_code ec;
    fs::create_directories(config.data_dir, ec);
    return write_atomically(path, stored.dump(2) + "\n");
}

}  // namespace audiodrop::server
