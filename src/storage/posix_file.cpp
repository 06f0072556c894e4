#include "storage/posix_file.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <system_error>

namespace audiodrop::storage {

core::Error io_error(std::string_view what, const std::filesystem::path& path, int err) {
    std::string message = std::string(what) + " " + path.string() + ": " + std::strerror(err);
    if (err == ENOSPC || err == EDQUOT) {
        return core::make_error(core::ErrorKind::storage_full, "InsufficientStorage",
                                "the storage disk is full (" + message + ")");
    }
    if (err == ENOENT) return core::make_error(core::ErrorKind::not_found, "NotFound", message);
    return core::make_error(core::ErrorKind::unavailable, "ServiceUnavailable", message);
}

core::Result<File> File::open(const std::filesystem::path& path, int flags, mode_t mode) {
    int fd = -1;
    do {
        fd = ::open(path.c_str(), flags | O_CLOEXEC, mode);
    } while (fd < 0 && errno == EINTR);
    if (fd < 0) {
        const int err = errno;
        // Creating fails with ENOENT only when the directory is gone: a fault of the
        // store, never a missing object the caller asked for.
        if (err == ENOENT && (flags & O_CREAT) != 0) {
            return core::make_error(core::ErrorKind::internal, "InternalError",
                                    "open " + path.string() + ": " + std::strerror(err));
        }
        return io_error("open", path, err);
    }
    return File(fd, path);
}

File::File(File&& other) noexcept : fd_(other.fd_), path_(std::move(other.path_)) {
    other.fd_ = -1;
}

File& File::operator=(File&& other) noexcept {
    if (this != &other) {
        close_quietly();
        fd_ = other.fd_;
        path_ = std::move(other.path_);
        other.fd_ = -1;
    }
    return *this;
}

File::~File() { close_quietly(); }

void File::close_quietly() {
    // Durability comes from sync(), never from close(), so its result adds nothing.
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
}

core::Result<void> File::write_all(std::span<const std::uint8_t> bytes) {
    while (!bytes.empty()) {
        const ssize_t n = ::write(fd_, bytes.data(), bytes.size());
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error("write", path_, errno);
        }
        bytes = bytes.subspan(static_cast<std::size_t>(n));
    }
    return {};
}

core::Result<std::size_t> File::pread_full(std::uint64_t offset,
                                           std::span<std::uint8_t> out) const {
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n =
            ::pread(fd_, out.data() + done, out.size() - done, static_cast<off_t>(offset + done));
        if (n < 0) {
            if (errno == EINTR) continue;
            return io_error("read", path_, errno);
        }
        if (n == 0) break;
        done += static_cast<std::size_t>(n);
    }
    return done;
}

core::Result<void> File::sync() {
    if (::fsync(fd_) != 0) return io_error("fsync", path_, errno);
    return {};
}

core::Result<std::uint64_t> File::size() const {
    struct stat st {};
    if (::fstat(fd_, &st) != 0) return io_error("stat", path_, errno);
    return static_cast<std::uint64_t>(st.st_size);
}

core::Result<void> sync_dir(const std::filesystem::path& dir) {
    auto f = File::open(dir, O_RDONLY | O_DIRECTORY);
    if (!f) return f.error();
    return f->sync();
}

core::Result<void> rename_path(const std::filesystem::path& from, const std::filesystem::path& to) {
    if (::rename(from.c_str(), to.c_str()) != 0) return io_error("rename", from, errno);
    return {};
}

core::Result<void> make_dir(const std::filesystem::path& dir) {
    if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) return io_error("mkdir", dir, errno);
    return {};
}

core::Result<std::string> read_small_file(const std::filesystem::path& path) {
    auto f = File::open(path, O_RDONLY);
    if (!f) return f.error();
    auto size = f->size();
    if (!size) return size.error();
    std::string out(static_cast<std::size_t>(*size), '\0');
    auto n = f->pread_full(
        0, std::span<std::uint8_t>(reinterpret_cast<std::uint8_t*>(out.data()), out.size()));
    if (!n) return n.error();
    out.resize(*n);
    return out;
}

core::Result<void> write_new_file(const std::filesystem::path& path, std::string_view data) {
    auto f = File::open(path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!f) return f.error();
    auto written = f->write_all(std::span<const std::uint8_t>(
        reinterpret_cast<const std::uint8_t*>(data.data()), data.size()));
    if (written) written = f->sync();
    if (!written) ::unlink(path.c_str());
    return written;
}

core::Result<void> write_file_durably(const std::filesystem::path& temp,
                                      const std::filesystem::path& target, std::string_view data) {
    auto written = write_new_file(temp, data);
    if (!written) return written;
    written = rename_path(temp, target);
    if (!written) {
        ::unlink(temp.c_str());
        return written;
    }
    return sync_dir(target.parent_path());
}

bool path_exists(const std::filesystem::path& path) {
    struct stat st {};
    return ::lstat(path.c_str(), &st) == 0;
}

void remove_tree_quietly(const std::filesystem::path& path) {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
}

}  // namespace audiodrop::storage
