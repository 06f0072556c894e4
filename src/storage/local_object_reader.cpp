#include "storage/local_object_reader.hpp"

#include <fcntl.h>

#include <algorithm>

namespace audiodrop::storage {
namespace {

core::Error corrupt_object(const std::string& key, const std::string& detail) {
    return core::make_error(core::ErrorKind::internal, "InternalError",
                            "object " + key + " is damaged: " + detail);
}

}  // namespace

core::Result<std::unique_ptr<LocalObjectReader>> LocalObjectReader::open(
    const std::filesystem::path& object_dir, const Manifest& manifest) {
    std::vector<Segment> segments;
    segments.reserve(manifest.parts.size());
    std::uint64_t offset = 0;
    for (const auto& part : manifest.parts) {
        auto file = File::open(object_dir / part.file, O_RDONLY);
        if (!file) return file.error();
        auto actual = file->size();
        if (!actual) return actual.error();
        if (*actual != part.size) {
            return corrupt_object(manifest.key, part.file + " has " + std::to_string(*actual) +
                                                    " bytes, the manifest says " +
                                                    std::to_string(part.size));
        }
        segments.push_back(Segment{std::move(*file), offset, part.size});
        offset += part.size;
    }
    if (offset != manifest.size) {
        return corrupt_object(manifest.key, "its parts do not add up to its size");
    }
    return std::unique_ptr<LocalObjectReader>(new LocalObjectReader(
        std::move(segments), manifest.size, manifest.md5, core::from_unix(manifest.completed_at)));
}

LocalObjectReader::LocalObjectReader(std::vector<Segment> segments, std::uint64_t size,
                                     std::string md5, core::TimePoint last_modified)
    : segments_(std::move(segments)),
      size_(size),
      md5_(std::move(md5)),
      last_modified_(last_modified) {}

core::Result<std::size_t> LocalObjectReader::read(std::uint64_t offset,
                                                  std::span<std::uint8_t> out) {
    if (offset >= size_ || out.empty()) return std::size_t{0};
    // The last segment starting at or before `offset`; empty parts are skipped below.
    auto it = std::upper_bound(segments_.begin(), segments_.end(), offset,
                               [](std::uint64_t o, const Segment& s) { return o < s.start; });
    --it;
    std::size_t done = 0;
    for (; it != segments_.end() && done < out.size(); ++it) {
        const std::uint64_t pos = offset + done;
        if (pos >= it->start + it->size) continue;
        const std::uint64_t in_part = pos - it->start;
        const std::size_t want = static_cast<std::size_t>(
            std::min<std::uint64_t>(out.size() - done, it->size - in_part));
        auto n = it->file.pread_full(in_part, out.subspan(done, want));
        if (!n) return n.error();
        if (*n != want) {
            return core::make_error(core::ErrorKind::internal, "InternalError",
                                    it->file.path().string() + " ended early");
        }
        done += want;
    }
    return done;
}

}  // namespace audiodrop::storage
