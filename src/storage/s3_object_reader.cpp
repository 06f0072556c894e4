#include "storage/s3_object_reader.hpp"

#include <algorithm>
#include <charconv>
#include <cstring>

namespace audiodrop::storage {
namespace {

core::Error read_failed(const std::string& key, const std::string& why) {
    return core::make_error(core::ErrorKind::unavailable, "storage_unavailable",
                            "the object store failed to read " + key + ": " + why);
}

}  // namespace

core::Result<std::unique_ptr<S3ObjectReader>> S3ObjectReader::open(s3::S3Client& client,
                                                                   const std::string& key,
                                                                   std::size_t block_bytes) {
    AUDIODROP_TRY_ASSIGN(auto head, client.send(s3::S3Request{"HEAD", key, {}, {}, {}}));
    if (head.status == 404) {
        return core::make_error(core::ErrorKind::not_found, "NoSuchKey",
                                "the object store has no " + key);
    }
    if (head.status != 200) return read_failed(key, "HEAD answered " + std::to_string(head.status));
    const std::string length = head.header("content-length").value_or("");
    std::uint64_t size = 0;
    const auto [end, ec] = std::from_chars(length.data(), length.data() + length.size(), size);
    if (ec != std::errc() || end != length.data() + length.size()) {
        return read_failed(key, "HEAD gave no size");
    }
    return std::unique_ptr<S3ObjectReader>(
        new S3ObjectReader(client, key, size, head.header("etag").value_or(""),
                           std::max<std::size_t>(block_bytes, 1)));
}

S3ObjectReader::S3ObjectReader(s3::S3Client& client, std::string key, std::uint64_t size,
                               std::string etag, std::size_t block_bytes)
    : client_(client),
      key_(std::move(key)),
      size_(size),
      etag_(std::move(etag)),
      block_bytes_(block_bytes) {
    std::string bare = etag_;
    std::erase(bare, '"');
    if (bare.size() == 32 && bare.find('-') == std::string::npos) md5_ = bare;
}

core::Result<void> S3ObjectReader::fetch_block(std::uint64_t start) {
    const std::uint64_t last = std::min<std::uint64_t>(start + block_bytes_, size_) - 1;
    s3::HeaderList headers{
        {"range", "bytes=" + std::to_string(start) + "-" + std::to_string(last)}};
    if (!etag_.empty()) headers.emplace_back("if-match", etag_);
    AUDIODROP_TRY_ASSIGN(auto r, client_.send(s3::S3Request{"GET", key_, {}, headers, {}}));
    if (r.status == 412) return read_failed(key_, "it changed while being read");
    if (r.status != 206 && r.status != 200) {
        return read_failed(key_, "a ranged GET answered " + std::to_string(r.status));
    }
    const std::uint64_t wanted = last - start + 1;
    if (r.status == 200) {
        // A store that ignores Range sends it all: keep the block asked for.
        if (r.body.size() < start + wanted) return read_failed(key_, "the object is short");
        r.body = r.body.substr(static_cast<std::size_t>(start), static_cast<std::size_t>(wanted));
    } else if (r.body.size() != wanted) {
        return read_failed(key_, "a ranged GET returned " + std::to_string(r.body.size()) +
                                     " bytes, not " + std::to_string(wanted));
    }
    block_start_ = start;
    block_ = std::move(r.body);
    return {};
}

core::Result<std::size_t> S3ObjectReader::read(std::uint64_t offset, std::span<std::uint8_t> out) {
    if (offset >= size_ || out.empty()) return std::size_t{0};
    if (block_.empty() || offset < block_start_ || offset >= block_start_ + block_.size()) {
        AUDIODROP_TRY(fetch_block(offset - offset % block_bytes_));
    }
    const std::size_t at = static_cast<std::size_t>(offset - block_start_);
    const std::size_t n = std::min(out.size(), block_.size() - at);
    std::memcpy(out.data(), block_.data() + at, n);
    return n;
}

}  // namespace audiodrop::storage
