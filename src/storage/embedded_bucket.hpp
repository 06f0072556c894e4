#pragma once

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/hashing.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::storage {

// Receives one part's bytes as they stream off the socket: the caller receives straight
// into receive_buffer() and says how much arrived with received(). Nothing is visible
// until commit() returns: the bytes are in a temp file, hashed as they arrive, then
// fsynced and renamed into place. Destroying an uncommitted writer removes the temp file.
class PartWriter {
  public:
    virtual ~PartWriter() = default;
    // Room for the next bytes of the body: never more than the Content-Length has left
    // (empty once all arrived). Valid until the next call on the writer.
    virtual std::span<std::uint8_t> receive_buffer() = 0;
    // `n` bytes were put at the start of receive_buffer().
    virtual core::Result<void> received(std::size_t n) = 0;
    // content_md5: the request's Content-MD5, checked against the bytes ("BadDigest").
    // The part is durable before this returns its PartInfo.
    virtual core::Result<PartInfo> commit(const std::optional<core::Md5Digest>& content_md5) = 0;

    // Copies `bytes` in, for a caller that holds them already. invalid_input when they
    // run past the Content-Length; the part can then never commit.
    core::Result<void> write(std::span<const std::uint8_t> bytes) {
        while (!bytes.empty()) {
            const auto room = receive_buffer();
            const std::size_t n = std::min(room.size(), bytes.size());
            if (n == 0) return received(bytes.size());  // no room: received() says why
            std::copy_n(bytes.begin(), n, room.begin());
            AUDIODROP_TRY(received(n));
            bytes = bytes.subspan(n);
        }
        return {};
    }
};

// What the embedded S3 endpoint needs from the local object store: the bucket it
// serves, a sink for part bytes and a reader for objects. The endpoint verifies
// signatures itself before it calls any of this.
class EmbeddedBucket {
  public:
    virtual ~EmbeddedBucket() = default;
    virtual const std::string& bucket() const = 0;
    // not_found "NoSuchUpload"; too_large "EntityTooLarge" when content_length is over
    // the upload's part size, so the body is refused before it is read.
    virtual core::Result<std::unique_ptr<PartWriter>> begin_part(const std::string& key,
                                                                 const std::string& upload_id,
                                                                 std::uint32_t part_number,
                                                                 std::uint64_t content_length) = 0;
    // not_found "NoSuchKey".
    virtual core::Result<std::unique_ptr<ObjectReader>> open_object(const std::string& key) = 0;
};

}  // namespace audiodrop::storage
