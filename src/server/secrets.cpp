#include "server/secrets.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <utility>
#include <vector>

#include "core/hashing.hpp"

namespace audiodrop::server {
namespace {

namespace fs = std::filesystem;
using core::ErrorKind;
using core::make_error;

constexpr std::string_view kFileName = "secrets.json";
constexpr std::string_view kLockName = "secrets.lock";
// Temp files are <kFileName>.<random>.tmp; a writer that died leaves one behind.
constexpr std::string_view kTempSuffix = ".tmp";

core::Error io_error(const std::string& what) {
    return make_error(ErrorKind::unavailable, "secrets_unavailable", what);
}

core::Error io_error(const std::string& what, const fs::path& path, int err) {
    return io_error("cannot " + what + " " + path.string() + ": " + std::strerror(err));
}

std::string random_token(std::size_t bytes) {
    return core::base64url_encode(core::random_bytes(bytes));
}

// S3 access keys are 20 uppercase alphanumerics; ours look the same.
std::string random_access_key() {
    std::string key = "AD";
    for (unsigned char c : core::random_bytes(18))
        key.push_back("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"[c % 32]);
    return key;
}

// The stored secrets, or an empty object when the file does not exist yet.
core::Result<nlohmann::json> read_secrets(const fs::path& path) {
    std::error_code ec;
    const bool exists = fs::exists(path, ec);
    if (ec) return io_error("read", path, ec.value());
    if (!exists) return nlohmann::json::object();
    std::ifstream in(path);
    if (!in) return io_error("cannot read " + path.string());
    auto stored = nlohmann::json::parse(in, nullptr, false);
    if (stored.is_discarded() || !stored.is_object()) {
        return io_error(path.string() + " is not valid JSON; restore it from a backup");
    }
    return stored;
}

// One secret the configuration left unset: taken from the file, else generated.
struct Needed {
    std::string& value;
    const char* name;
    std::string (*generate)();
};

std::vector<Needed> needed_secrets(core::Config& config) {
    std::vector<Needed> out;
    const auto need = [&](std::string& value, const char* name, std::string (*generate)()) {
        if (value.empty()) out.push_back({value, name, generate});
    };
    if (config.s3_endpoint.empty()) {  // only the embedded store signs with these
        need(config.storage_access_key, "storage_access_key", random_access_key);
        need(config.storage_secret_key, "storage_secret_key", [] { return random_token(30); });
    }
    need(config.token_signing_key, "token_signing_key", [] { return random_token(32); });
    return out;
}

// Fills what the file holds; true when it held every needed secret.
bool fill_from(const nlohmann::json& stored, const std::vector<Needed>& needed) {
    bool complete = true;
    for (const auto& n : needed) {
        const auto it = stored.find(n.name);
        if (it != stored.end() && it->is_string() && !it->get<std::string>().empty()) {
            n.value = it->get<std::string>();
        } else {
            complete = false;
        }
    }
    return complete;
}

// Written under a fresh name (O_EXCL | O_NOFOLLOW: nothing planted there is followed
// or reused), fsynced, renamed over the file and the directory fsynced.
core::Result<void> replace_file(const fs::path& dir, const fs::path& path,
                                const std::string& text) {
    const fs::path temp =
        dir / (std::string(kFileName) + "." + random_token(9) + std::string(kTempSuffix));
    const int fd = ::open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) return io_error("create", temp, errno);
    std::size_t done = 0;
    while (done < text.size()) {
        const ssize_t n = ::write(fd, text.data() + done, text.size() - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) break;
        done += static_cast<std::size_t>(n);
    }
    const int err = done == text.size() && ::fsync(fd) == 0 ? 0 : (errno != 0 ? errno : EIO);
    ::close(fd);
    if (err != 0 || ::rename(temp.c_str(), path.c_str()) != 0) {
        const int e = err != 0 ? err : errno;
        ::unlink(temp.c_str());
        return io_error("write", path, e);
    }
    if (const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC); dfd >= 0) {
        const bool synced = ::fsync(dfd) == 0;
        ::close(dfd);
        if (!synced) return io_error("sync", dir, errno);
    }
    return {};
}

// Temp files of writers that died before their rename; only called under the lock, so
// no live writer's file is among them.
void remove_stale_temps(const fs::path& dir) {
    std::error_code ec;
    const std::string prefix = std::string(kFileName) + ".";
    for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.starts_with(prefix) && name.ends_with(kTempSuffix)) fs::remove(it->path(), ec);
    }
}

// Holds an exclusive flock on <data_dir>/secrets.lock for its lifetime: every process
// that must generate a secret does it in turn, and each re-reads what the previous one
// wrote. The lock file is never removed, so every process locks the same inode.
class SecretsLock {
  public:
    static core::Result<SecretsLock> acquire(const fs::path& dir) {
        const fs::path path = dir / kLockName;
        const int fd = ::open(path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
        if (fd < 0) return io_error("open", path, errno);
        while (::flock(fd, LOCK_EX) != 0) {
            if (errno == EINTR) continue;
            const int err = errno;
            ::close(fd);
            return io_error("lock", path, err);
        }
        return SecretsLock(fd);
    }
    SecretsLock(SecretsLock&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
    SecretsLock& operator=(SecretsLock&&) = delete;
    ~SecretsLock() {
        if (fd_ >= 0) ::close(fd_);  // closing the last descriptor releases the flock
    }

  private:
    explicit SecretsLock(int fd) : fd_(fd) {}
    int fd_;
};

core::Result<void> check_signing_key(const std::string& key, const fs::path& path) {
    if (key.size() >= kMinTokenSigningKeyChars) return {};
    return io_error("the token_signing_key in " + path.string() + " is shorter than " +
                    std::to_string(kMinTokenSigningKeyChars) +
                    " characters; replace it with a longer random one (tokens it signed become "
                    "invalid) or remove it to have one generated");
}

}  // namespace

core::Result<void> load_or_create_secrets(core::Config& config) {
    const fs::path dir(config.data_dir);
    const fs::path path = dir / kFileName;
    const auto needed = needed_secrets(config);
    if (needed.empty()) return {};
    // Fast path, no lock: the file is only ever replaced whole, by rename.
    AUDIODROP_TRY_ASSIGN(auto stored, read_secrets(path));
    if (!fill_from(stored, needed)) {
        std::error_code ec;
        fs::create_directories(dir, ec);
        if (ec) return io_error("create data dir " + dir.string() + ": " + ec.message());
        AUDIODROP_TRY_ASSIGN(const auto lock, SecretsLock::acquire(dir));
        // Another process may have written the file since the read above.
        AUDIODROP_TRY_ASSIGN(stored, read_secrets(path));
        if (!fill_from(stored, needed)) {
            for (const auto& n : needed) {
                if (n.value.empty()) n.value = n.generate();
                stored[n.name] = n.value;
            }
            remove_stale_temps(dir);
            AUDIODROP_TRY(replace_file(dir, path, stored.dump(2) + "\n"));
        }
    }
    return check_signing_key(config.token_signing_key, path);
}

}  // namespace audiodrop::server
