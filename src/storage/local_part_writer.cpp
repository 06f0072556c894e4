#include "storage/local_part_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <ctime>

#include "storage/local_layout.hpp"

namespace audiodrop::storage {
namespace {

core::Error no_such_upload(const std::string& upload_id) {
    return core::make_error(core::ErrorKind::not_found, "NoSuchUpload",
                            "upload " + upload_id + " does not exist or is already completed");
}

std::int64_t realtime_ns() {
    timespec ts{};
    ::clock_gettime(CLOCK_REALTIME, &ts);
    return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// The mtime orders files of one part number ("newest wins" after a crash). Kernel
// timestamps are coarse (a tick), so two quick re-uploads could tie; stamping
// explicitly past the newest existing file keeps the order strict. Real time, not the
// injected clock: this is a filesystem ordering detail, not service logic.
core::Result<void> stamp_after(const File& file, std::int64_t newest_existing_ns) {
    const std::int64_t stamp = std::max(realtime_ns(), newest_existing_ns + 1);
    timespec times[2];
    times[0].tv_sec = 0;
    times[0].tv_nsec = UTIME_OMIT;
    times[1].tv_sec = static_cast<time_t>(stamp / 1'000'000'000);
    times[1].tv_nsec = static_cast<long>(stamp % 1'000'000'000);
    if (::futimens(file.fd(), times) != 0) return io_error("futimens", file.path(), errno);
    return {};
}

}  // namespace

LocalPartWriter::LocalPartWriter(File temp, PartDestination destination, KeyedMutex& upload_locks)
    : temp_(std::move(temp)),
      temp_path_(temp_.path()),
      destination_(std::move(destination)),
      upload_locks_(upload_locks) {}

LocalPartWriter::~LocalPartWriter() {
    // After a successful commit the temp name is gone, so this is a harmless ENOENT.
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

core::Result<void> LocalPartWriter::write(std::span<const std::uint8_t> bytes) {
    if (failed_) return *failed_;
    if (finished_) {
        return core::make_error(core::ErrorKind::internal, "InternalError",
                                "write after the part was committed");
    }
    if (bytes.size() > destination_.content_length - written_) {
        failed_ = core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                                   "the body is longer than its Content-Length");
        return *failed_;
    }
    if (auto r = temp_.write_all(bytes); !r) {
        failed_ = r.error();
        return r;
    }
    md5_.update(bytes);
    written_ += bytes.size();
    return {};
}

core::Result<PartInfo> LocalPartWriter::commit(const std::optional<core::Md5Digest>& content_md5) {
    if (failed_) return *failed_;
    if (finished_) {
        return core::make_error(core::ErrorKind::internal, "InternalError",
                                "the part was already committed");
    }
    finished_ = true;
    if (written_ != destination_.content_length) {
        return core::make_error(core::ErrorKind::invalid_input, "IncompleteBody",
                                "received " + std::to_string(written_) + " of the " +
                                    std::to_string(destination_.content_length) +
                                    " bytes the Content-Length announced");
    }
    const core::Md5Digest digest = md5_.finish();
    if (content_md5 && *content_md5 != digest) {
        return core::make_error(core::ErrorKind::invalid_input, "BadDigest",
                                "the Content-MD5 you specified did not match the body received");
    }
    if (auto r = temp_.sync(); !r) return r.error();

    const std::string etag = core::to_hex(digest);
    const std::string file_name = part_file_name(destination_.part_number, etag);
    if (auto r = move_into_upload(file_name); !r) return r.error();
    temp_path_.clear();
    temp_ = File();
    // Outside the lock: the rename is visible already; this makes it durable before
    // the caller acknowledges the part.
    if (auto r = sync_dir(destination_.upload_dir); !r) return r.error();
    return PartInfo{destination_.part_number, etag, written_};
}

core::Result<void> LocalPartWriter::move_into_upload(const std::string& file_name) {
    auto guard = upload_locks_.lock(destination_.upload_id);
    const auto& dir = destination_.upload_dir;
    // Completed (renamed away, or decided by a manifest) or aborted while we streamed.
    if (!path_exists(dir / kUploadRecordName) || path_exists(dir / kManifestName)) {
        return no_such_upload(destination_.upload_id);
    }
    auto existing = scan_parts(dir, destination_.part_number);
    if (!existing) return existing.error();
    std::vector<std::string> older = std::move(existing->superseded);
    std::int64_t newest = 0;
    for (const auto& [number, part] : existing->parts) {
        older.push_back(part.file);
        newest = std::max(newest, part.mtime_ns);
    }
    if (auto r = stamp_after(temp_, newest); !r) return r;
    if (auto r = rename_path(temp_path_, dir / file_name); !r) {
        if (r.error().kind == core::ErrorKind::not_found)
            return no_such_upload(destination_.upload_id);
        return r;
    }
    for (const auto& name : older) {
        // A re-upload of identical bytes has the same name and was replaced in place.
        if (name != file_name) ::unlink((dir / name).c_str());
    }
    return {};
}

}  // namespace audiodrop::storage
