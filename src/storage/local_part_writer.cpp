#include "storage/local_part_writer.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>

#include "storage/local_object_store.hpp"

namespace audiodrop::storage {
namespace {

// Big enough that a fast client's piece is one write; untouched memory costs
// nothing, so a slow client pays only for the pages its bytes reach.
constexpr std::size_t kBufferBytes = 1024 * 1024;

}  // namespace

LocalPartWriter::LocalPartWriter(File temp, PartDestination destination, LocalObjectStore& store)
    : temp_(std::move(temp)),
      temp_path_(temp_.path()),
      destination_(std::move(destination)),
      store_(store),
      buffer_(std::make_unique_for_overwrite<std::uint8_t[]>(kBufferBytes)) {}

LocalPartWriter::~LocalPartWriter() {
    // After a successful commit the temp name is gone, so this is a harmless ENOENT.
    if (!temp_path_.empty()) ::unlink(temp_path_.c_str());
}

std::span<std::uint8_t> LocalPartWriter::receive_buffer() {
    if (failed_ || finished_) return {};
    const auto left = destination_.content_length - written_;
    return {buffer_.get(), static_cast<std::size_t>(std::min<std::uint64_t>(kBufferBytes, left))};
}

core::Result<void> LocalPartWriter::received(std::size_t n) {
    if (failed_) return *failed_;
    if (finished_) {
        return core::make_error(core::ErrorKind::internal, "InternalError",
                                "write after the part was committed");
    }
    if (n > receive_buffer().size()) {
        failed_ = core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                                   "the body is longer than its Content-Length");
        return *failed_;
    }
    const std::span<const std::uint8_t> bytes(buffer_.get(), n);
    if (auto r = temp_.write_all(bytes); !r) {
        failed_ = r.error();
        return r;
    }
    md5_.update(bytes);
    written_ += n;
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
    const core::Md5Digest digest = md5_.digest();
    if (content_md5 && *content_md5 != digest) {
        return core::make_error(core::ErrorKind::invalid_input, "BadDigest",
                                "the Content-MD5 you specified did not match the body received");
    }
    if (auto r = temp_.sync(); !r) return r.error();

    const std::string etag = core::to_hex(digest);
    if (auto r = store_.install_part(destination_, temp_, etag); !r) return r.error();
    temp_path_.clear();
    temp_ = File();
    return PartInfo{destination_.part_number, etag, written_};
}

}  // namespace audiodrop::storage
