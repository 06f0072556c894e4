#pragma once

// Thin POSIX file helpers for the local object store: an owning fd with the handful of
// calls durability needs (full writes, pread, fsync), and every errno mapped once into
// a core::Error. ENOSPC/EDQUOT become storage_full "InsufficientStorage", ENOENT
// not_found "NotFound" (callers turn it into their own S3 code), anything else
// unavailable "ServiceUnavailable": a disk error is the store failing, not the client.

#include <sys/types.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace audiodrop::storage {

core::Error io_error(std::string_view what, const std::filesystem::path& path, int err);

class File {
  public:
    // flags as for open(2); O_CLOEXEC is always added.
    static core::Result<File> open(const std::filesystem::path& path, int flags,
                                   mode_t mode = 0600);

    File() = default;
    File(File&& other) noexcept;
    File& operator=(File&& other) noexcept;
    File(const File&) = delete;
    File& operator=(const File&) = delete;
    ~File();

    int fd() const { return fd_; }
    const std::filesystem::path& path() const { return path_; }

    // Writes every byte (retrying short writes and EINTR) at the current offset.
    core::Result<void> write_all(std::span<const std::uint8_t> bytes);
    // Reads until `out` is full or end of file; returns the count read.
    core::Result<std::size_t> pread_full(std::uint64_t offset, std::span<std::uint8_t> out) const;
    core::Result<void> sync();
    core::Result<std::uint64_t> size() const;

  private:
    File(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
    void close_quietly();

    int fd_ = -1;
    std::filesystem::path path_;
};

// fsync on a directory makes the names created, renamed or removed in it durable.
core::Result<void> sync_dir(const std::filesystem::path& dir);
core::Result<void> rename_path(const std::filesystem::path& from, const std::filesystem::path& to);
core::Result<void> make_dir(const std::filesystem::path& dir);
// Whole small file (records and manifests); not_found when absent.
core::Result<std::string> read_small_file(const std::filesystem::path& path);
// Creates `path` (it must not exist), writes `data` and fsyncs it.
core::Result<void> write_new_file(const std::filesystem::path& path, std::string_view data);
// Writes `data` to `temp`, fsyncs it, renames it to `target` and fsyncs target's
// directory: readers see the old file or the whole new one, never a torn one.
core::Result<void> write_file_durably(const std::filesystem::path& temp,
                                      const std::filesystem::path& target, std::string_view data);
bool path_exists(const std::filesystem::path& path);
// Best effort: what is left behind lives under tmp/ and is swept at the next start.
void remove_tree_quietly(const std::filesystem::path& path);

}  // namespace audiodrop::storage
