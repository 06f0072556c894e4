#include "storage/md5_frontier.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "storage/posix_file.hpp"

namespace audiodrop::storage {
namespace {

constexpr std::size_t kHashBufferBytes = 256 * 1024;  // stays in L2 between read and hash

// One record per hashed part; see the header. Little-endian integers.
constexpr std::size_t kRecordBytes = 160;
constexpr std::size_t kChecksumBytes = 8;
constexpr std::size_t kEtagAt = 4, kMtimeAt = 36, kCheckpointAt = 44;

struct PartIdentity {
    std::string etag;
    std::int64_t mtime_ns = 0;
    bool operator==(const PartIdentity&) const = default;
};

PartIdentity identity_of(const StoredPart& p) { return {p.info.etag, p.mtime_ns}; }

void put_le(char* at, std::uint64_t v, std::size_t bytes) {
    for (std::size_t i = 0; i < bytes; ++i) at[i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

std::uint64_t get_le(const char* at, std::size_t bytes) {
    std::uint64_t v = 0;
    for (std::size_t i = bytes; i-- > 0;) v = (v << 8) | static_cast<unsigned char>(at[i]);
    return v;
}

std::string checksum(std::string_view body) {
    const auto digest = core::sha256(body);
    return std::string(reinterpret_cast<const char*>(digest.data()), kChecksumBytes);
}

std::string encode_record(std::uint32_t part_number, const PartIdentity& part,
                          const std::string& checkpoint) {
    std::string r(kRecordBytes - kChecksumBytes, '\0');
    put_le(r.data(), part_number, 4);
    std::memcpy(r.data() + kEtagAt, part.etag.data(), std::min<std::size_t>(part.etag.size(), 32));
    put_le(r.data() + kMtimeAt, static_cast<std::uint64_t>(part.mtime_ns), 8);
    std::memcpy(r.data() + kCheckpointAt, checkpoint.data(),
                std::min(checkpoint.size(), r.size() - kCheckpointAt));
    return r + checksum(r);
}

struct DecodedRecord {
    std::uint32_t part_number = 0;
    PartIdentity part;
    core::Md5 md5;
};

std::optional<DecodedRecord> decode_record(std::string_view r) {
    if (r.size() != kRecordBytes) return std::nullopt;
    const auto body = r.substr(0, kRecordBytes - kChecksumBytes);
    if (checksum(body) != r.substr(kRecordBytes - kChecksumBytes)) return std::nullopt;
    const auto checkpoint_bytes = core::Md5().checkpoint().size();
    auto md5 = core::Md5::restore(body.substr(kCheckpointAt, checkpoint_bytes));
    if (!md5) return std::nullopt;
    return DecodedRecord{static_cast<std::uint32_t>(get_le(r.data(), 4)),
                         PartIdentity{std::string(body.substr(kEtagAt, 32)),
                                      static_cast<std::int64_t>(get_le(r.data() + kMtimeAt, 8))},
                         std::move(*md5)};
}

}  // namespace

struct Md5Frontiers::Entry {
    std::mutex mutex;
    bool loaded = false;
    bool forgotten = false;
    std::uint32_t hashed = 0;  // parts 1..hashed are in md5
    core::Md5 md5;
    std::vector<PartIdentity> parts;  // the identity of each hashed part
    // Bumped whenever a background result in flight may no longer match the parts.
    std::uint64_t generation = 0;
    bool advancing = false;   // a background task owns the advance
    bool completing = false;  // whole_md5 hashes the rest itself: the background stops
    bool dirty = false;       // a part was committed while it ran
};

core::Result<std::uint64_t> hash_file(const std::filesystem::path& path, core::Md5& md5) {
    auto file = File::open(path, O_RDONLY);
    if (!file) return file.error();
    ::posix_fadvise(file->fd(), 0, 0, POSIX_FADV_SEQUENTIAL);
    auto buffer = std::make_unique_for_overwrite<std::uint8_t[]>(kHashBufferBytes);
    std::uint64_t size = 0;
    for (;;) {
        auto n = file->pread_full(size, std::span<std::uint8_t>(buffer.get(), kHashBufferBytes));
        if (!n) return n.error();
        if (*n == 0) return size;
        md5.update(std::span<const std::uint8_t>(buffer.get(), *n));
        size += *n;
    }
}

Md5Frontiers::Md5Frontiers(const LocalLayout& layout, core::WorkerPool* pool)
    : layout_(layout), pool_(pool) {}

Md5Frontiers::~Md5Frontiers() {
    std::unique_lock lock(lifetime_->mutex);
    lifetime_->closed = true;
    lifetime_->idle.wait(lock, [&] { return lifetime_->running == 0; });
}

std::filesystem::path Md5Frontiers::file_of(const std::string& upload_id) const {
    return layout_.upload_dir(upload_id) / kFileName;
}

std::shared_ptr<Md5Frontiers::Entry> Md5Frontiers::entry(const std::string& upload_id) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard lock(mutex_);
        auto& slot = entries_[upload_id];
        if (!slot) slot = std::make_shared<Entry>();
        e = slot;
    }
    std::lock_guard lock(e->mutex);
    if (!e->loaded) load(upload_id, *e);
    return e;
}

void Md5Frontiers::load(const std::string& upload_id, Entry& e) {
    e.loaded = true;
    auto text = read_small_file(file_of(upload_id));
    if (!text || text->empty()) return;
    auto scan = scan_parts(layout_.upload_dir(upload_id));
    if (!scan) return;
    for (std::size_t at = 0; at + kRecordBytes <= text->size(); at += kRecordBytes) {
        auto record = decode_record(std::string_view(*text).substr(at, kRecordBytes));
        const std::uint32_t want = e.hashed + 1;
        if (!record || record->part_number != want) break;
        auto live = scan->parts.find(want);
        if (live == scan->parts.end() || identity_of(live->second) != record->part) break;
        e.hashed = want;
        e.md5 = std::move(record->md5);
        e.parts.push_back(std::move(record->part));
    }
}

void Md5Frontiers::roll_back(const std::string& upload_id, Entry& e, std::uint32_t part_number) {
    const std::uint32_t keep = part_number - 1;
    ++e.generation;
    e.hashed = 0;
    e.md5 = core::Md5();
    e.parts.resize(keep);
    if (keep > 0) {
        // The state before the part is in the record of the part before it.
        auto file = File::open(file_of(upload_id), O_RDONLY);
        std::string raw(kRecordBytes, '\0');
        auto n =
            file ? file->pread_full(static_cast<std::uint64_t>(keep - 1) * kRecordBytes,
                                    std::span<std::uint8_t>(
                                        reinterpret_cast<std::uint8_t*>(raw.data()), raw.size()))
                 : core::Result<std::size_t>(file.error());
        auto record = n && *n == kRecordBytes ? decode_record(raw) : std::nullopt;
        if (record && record->part_number == keep && record->part == e.parts.back()) {
            e.hashed = keep;
            e.md5 = std::move(record->md5);
        } else {
            e.parts.clear();  // nothing to resume from: start over
        }
    }
    // Best effort, like every record write: stale records fail the identity check anyway.
    [[maybe_unused]] const int truncated =
        ::truncate(file_of(upload_id).c_str(), static_cast<off_t>(e.hashed * kRecordBytes));
}

void Md5Frontiers::write_records(const std::string& upload_id, const Entry& e, std::uint32_t first,
                                 const std::vector<std::string>& checkpoints) {
    std::string out;
    out.reserve(checkpoints.size() * kRecordBytes);
    for (std::size_t i = 0; i < checkpoints.size(); ++i) {
        const std::uint32_t n = first + static_cast<std::uint32_t>(i);
        out += encode_record(n, e.parts[n - 1], checkpoints[i]);
    }
    // Best effort: a record that is not written is a part hashed again after a crash.
    const int fd = ::open(file_of(upload_id).c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
    if (fd < 0) return;
    const auto offset = static_cast<off_t>(static_cast<std::uint64_t>(first - 1) * kRecordBytes);
    if (::pwrite(fd, out.data(), out.size(), offset) == static_cast<ssize_t>(out.size())) {
        // Records past the end are stale; left behind, they fail the identity check.
        [[maybe_unused]] const int truncated =
            ::ftruncate(fd, static_cast<off_t>(e.hashed * kRecordBytes));
    }
    ::close(fd);
}

void Md5Frontiers::part_committed(const std::string& upload_id, std::uint32_t part_number) {
    auto e = entry(upload_id);
    std::lock_guard lock(e->mutex);
    const bool behind = part_number <= e->hashed;
    if (behind) {
        // Back to before it; further back if that state is lost, and then the parts
        // between need hashing again, whichever part this is.
        roll_back(upload_id, *e, part_number);
    } else if (part_number == e->hashed + 1) {
        ++e->generation;  // a background read of an older file of this part is stale
    }
    if (e->advancing) {
        e->dirty = true;
    } else if (behind || part_number == e->hashed + 1) {
        start_advance(upload_id, e);
    }
}

void Md5Frontiers::start_advance(const std::string& upload_id, const std::shared_ptr<Entry>& e) {
    if (pool_ == nullptr) return;
    e->advancing = true;
    core::Task task = [this, lifetime = lifetime_, upload_id, e] {
        {
            std::lock_guard lock(lifetime->mutex);
            if (lifetime->closed) return;  // `this` is gone
            ++lifetime->running;
        }
        advance(upload_id, e);
        std::lock_guard lock(lifetime->mutex);
        if (--lifetime->running == 0) lifetime->idle.notify_all();
    };
    // A full hash pool only means complete hashes more itself.
    if (!pool_->try_submit(task)) e->advancing = false;
}

void Md5Frontiers::advance(const std::string& upload_id, const std::shared_ptr<Entry>& e) {
    const auto dir = layout_.upload_dir(upload_id);
    for (;;) {
        std::uint32_t next = 0;
        std::uint64_t generation = 0;
        core::Md5 md5;
        {
            std::lock_guard lock(e->mutex);
            if (e->forgotten || e->completing) {
                e->advancing = false;
                return;
            }
            next = e->hashed + 1;
            generation = e->generation;
            md5 = e->md5;
            e->dirty = false;
        }
        std::optional<StoredPart> part;
        if (auto scan = scan_parts(dir, next); scan) {
            if (auto it = scan->parts.find(next); it != scan->parts.end()) part = it->second;
        }
        auto hashed =
            part ? hash_file(dir / part->file, md5) : core::Result<std::uint64_t>(core::Error{});
        if (hashed) background_bytes_ += *hashed;  // work done, whether kept or not
        std::lock_guard lock(e->mutex);
        if (e->forgotten || e->completing) {
            e->advancing = false;
            return;
        }
        // The parts moved under us (a part stored again, or complete got there first):
        // look again from wherever the frontier is now.
        if (e->generation != generation || e->hashed + 1 != next) continue;
        if (!hashed) {
            if (e->dirty) continue;  // a part was stored since we looked: look again
            e->advancing = false;    // not there yet, or unreadable: complete will see
            return;
        }
        e->hashed = next;
        e->md5 = std::move(md5);
        e->parts.push_back(identity_of(*part));
        write_records(upload_id, *e, next, {e->md5.checkpoint()});
    }
}

core::Result<core::Md5> Md5Frontiers::whole_md5(const std::string& upload_id,
                                                const std::vector<StoredPart>& parts) {
    bool from_one = true;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        from_one = from_one && parts[i].info.part_number == i + 1;
    }
    const auto dir = layout_.upload_dir(upload_id);
    core::Md5 md5;
    if (!from_one) {
        // Not parts 1..N (S3 allows any ascending subset): no frontier applies.
        for (const auto& p : parts) {
            AUDIODROP_TRY_ASSIGN(const auto n, hash_file(dir / p.file, md5));
            complete_bytes_ += n;
        }
        return md5;
    }
    auto e = entry(upload_id);
    std::uint32_t start = 0;
    std::uint64_t generation = 0;
    {
        std::lock_guard lock(e->mutex);
        // Trust the frontier only as far as it names these very part files.
        std::uint32_t same = 0;
        while (same < e->hashed && same < parts.size() &&
               e->parts[same] == identity_of(parts[same])) {
            ++same;
        }
        if (same < e->hashed) roll_back(upload_id, *e, same + 1);
        start = e->hashed;
        md5 = e->md5;
        generation = ++e->generation;  // what the background holds now is stale
        e->completing = true;          // and it stops, rather than race us for the rest
    }
    std::vector<std::string> checkpoints;
    checkpoints.reserve(parts.size() - start);
    core::Result<std::uint64_t> hashed = std::uint64_t{0};
    for (std::size_t i = start; i < parts.size() && hashed; ++i) {
        hashed = hash_file(dir / parts[i].file, md5);
        if (hashed) complete_bytes_ += *hashed;
        checkpoints.push_back(md5.checkpoint());
    }
    std::lock_guard lock(e->mutex);
    e->completing = false;
    if (!hashed) return hashed.error();
    if (e->generation == generation && !e->forgotten) {
        for (std::size_t i = start; i < parts.size(); ++i)
            e->parts.push_back(identity_of(parts[i]));
        e->hashed = static_cast<std::uint32_t>(parts.size());
        e->md5 = md5;
        write_records(upload_id, *e, start + 1, checkpoints);
    }
    return md5;
}

void Md5Frontiers::forget(const std::string& upload_id) {
    std::shared_ptr<Entry> e;
    {
        std::lock_guard lock(mutex_);
        auto it = entries_.find(upload_id);
        if (it == entries_.end()) return;
        e = std::move(it->second);
        entries_.erase(it);
    }
    std::lock_guard lock(e->mutex);
    e->forgotten = true;
}

std::uint32_t Md5Frontiers::parts_hashed(const std::string& upload_id) {
    auto e = entry(upload_id);
    std::lock_guard lock(e->mutex);
    return e->hashed;
}

}  // namespace audiodrop::storage
