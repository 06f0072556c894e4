#include "storage/local_object_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <ctime>
#include <set>
#include <system_error>

#include "core/hashing.hpp"
#include "core/ids.hpp"
#include "storage/etag.hpp"
#include "storage/local_object_reader.hpp"
#include "storage/local_part_writer.hpp"

namespace audiodrop::storage {
namespace {

// Presigned URLs live at most 7 days; a day more covers clocks that disagree.
constexpr std::int64_t kEndedMarkSeconds = 8 * 24 * 3600;
constexpr std::int64_t kEndedSweepSeconds = 3600;

core::Error no_such_upload(const std::string& upload_id) {
    return core::make_error(core::ErrorKind::not_found, "NoSuchUpload",
                            "upload " + upload_id + " does not exist, was aborted or completed");
}

core::Error no_such_key(const std::string& key) {
    return core::make_error(core::ErrorKind::not_found, "NoSuchKey",
                            "no object named " + key + " exists");
}

core::Error invalid_key(const std::string& key) {
    return core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                            "object key \"" + key +
                                "\" is not allowed: use 1-200 of [A-Za-z0-9._-], not starting "
                                "with '.'");
}

core::Error invalid_part_number(std::uint32_t part_number) {
    return core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                            "part number " + std::to_string(part_number) + " is outside 1..10000");
}

bool is_not_found(const core::Error& e) { return e.kind == core::ErrorKind::not_found; }

// S3 CompleteMultipartUpload: at least one part, in strictly ascending order.
core::Result<std::vector<PartRef>> normalise_part_list(const std::vector<PartRef>& parts) {
    if (parts.empty()) {
        return core::make_error(core::ErrorKind::invalid_input, "MalformedXML",
                                "a complete needs at least one part");
    }
    std::vector<PartRef> out;
    out.reserve(parts.size());
    for (const auto& p : parts) {
        if (!is_valid_part_number(p.part_number)) return invalid_part_number(p.part_number);
        if (!out.empty() && p.part_number <= out.back().part_number) {
            return core::make_error(core::ErrorKind::invalid_input, "InvalidPartOrder",
                                    "parts must be listed in ascending order without repeats "
                                    "(part " +
                                        std::to_string(p.part_number) + " follows part " +
                                        std::to_string(out.back().part_number) + ")");
        }
        out.push_back(PartRef{p.part_number, normalise_etag(p.etag)});
    }
    return out;
}

core::Error never_uploaded(std::uint32_t part_number) {
    return core::make_error(core::ErrorKind::invalid_input, "InvalidPart",
                            "part " + std::to_string(part_number) + " was never uploaded");
}

core::Error bad_digest(const std::string& expected, const std::string& actual) {
    return core::make_error(
        core::ErrorKind::invalid_input, "BadDigest",
        "the file's MD5 is " + actual + " but " + expected + " was expected; the upload stays open",
        core::Reason::digest_mismatch);
}

bool md5_differs(const std::optional<std::string>& expected, const std::string& actual) {
    return expected && normalise_etag(*expected) != actual;
}

ObjectInfo info_of(const Manifest& m) { return ObjectInfo{m.size, m.md5}; }

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

core::Result<std::unique_ptr<LocalObjectStore>> LocalObjectStore::open(
    Options options, const core::Clock& clock, core::WorkerPool* hash_pool) {
    auto store = std::make_unique<LocalObjectStore>(std::move(options), clock, hash_pool);
    if (auto r = store->recover(); !r) return r.error();
    return store;
}

LocalObjectStore::LocalObjectStore(Options options, const core::Clock& clock,
                                   core::WorkerPool* hash_pool)
    : options_(std::move(options)),
      clock_(clock),
      layout_(options_.root),
      sealer_(options_.credentials.secret_key),
      frontiers_(layout_, hash_pool) {
    while (!options_.public_url.empty() && options_.public_url.back() == '/') {
        options_.public_url.pop_back();
    }
}

core::Result<void> LocalObjectStore::recover() {
    std::error_code ec;
    std::filesystem::create_directories(layout_.root(), ec);
    if (ec) return io_error("create", layout_.root(), ec.value());
    for (const auto& dir : {layout_.tmp(), layout_.uploads(), layout_.objects(), layout_.ended()}) {
        if (auto r = make_dir(dir); !r) return r;
    }

    // Sweeping tmp/ under a second live store would delete its in-flight parts.
    if (lock_file_.fd() < 0) {
        auto lock = File::open(layout_.lock_file(), O_RDWR | O_CREAT, 0600);
        if (!lock) return lock.error();
        if (::flock(lock->fd(), LOCK_EX | LOCK_NB) != 0) {
            if (errno == EWOULDBLOCK) {
                return core::make_error(
                    core::ErrorKind::unavailable, "StoreLocked",
                    layout_.root().string() + " is in use by another running store");
            }
            return io_error("lock", layout_.lock_file(), errno);
        }
        lock_file_ = std::move(*lock);
    }

    for (std::filesystem::directory_iterator it(layout_.tmp(), ec), end; !ec && it != end;
         it.increment(ec)) {
        remove_tree_quietly(it->path());
    }
    if (ec) return io_error("list", layout_.tmp(), ec.value());

    std::vector<std::string> upload_ids;
    for (std::filesystem::directory_iterator it(layout_.uploads(), ec), end; !ec && it != end;
         it.increment(ec)) {
        std::string name = it->path().filename().string();
        if (is_valid_upload_id(name)) upload_ids.push_back(std::move(name));
    }
    if (ec) return io_error("list", layout_.uploads(), ec.value());
    for (const auto& id : upload_ids) {
        if (auto r = recover_upload(id); !r) return r;
    }
    sweep_ended();
    return sync_dir(layout_.tmp());
}

void LocalObjectStore::sweep_ended() {
    const std::int64_t now = core::to_unix(clock_.now());
    std::int64_t last = ended_swept_at_.load();
    if (now - last < kEndedSweepSeconds || !ended_swept_at_.compare_exchange_strong(last, now)) {
        return;
    }
    std::error_code ec;
    for (std::filesystem::directory_iterator it(layout_.ended(), ec), end; !ec && it != end;
         it.increment(ec)) {
        struct stat st {};
        if (::stat(it->path().c_str(), &st) == 0 && now - st.st_mtim.tv_sec > kEndedMarkSeconds) {
            ::unlink(it->path().c_str());
        }
    }
}

core::Result<void> LocalObjectStore::recover_upload(const std::string& upload_id) {
    const auto dir = layout_.upload_dir(upload_id);
    auto manifest_text = read_small_file(dir / kManifestName);
    if (manifest_text) {
        // The complete reached its commit point before the crash: finish it.
        auto manifest = decode_manifest(*manifest_text);
        if (!manifest) return manifest.error();
        if (manifest->upload_id != upload_id) {
            return core::make_error(
                core::ErrorKind::internal, "InternalError",
                "manifest in upload " + upload_id + " names upload " + manifest->upload_id);
        }
        return finish_complete(*manifest);
    }
    if (!is_not_found(manifest_text.error())) return manifest_text.error();

    auto scan = scan_parts(dir);
    if (!scan) return scan.error();
    if (scan->superseded.empty()) return {};
    for (const auto& name : scan->superseded) ::unlink((dir / name).c_str());
    return sync_dir(dir);
}

core::Result<std::string> LocalObjectStore::create_multipart(const std::string& key,
                                                             std::uint64_t max_part_size) {
    if (!is_valid_key(key)) return invalid_key(key);
    if (max_part_size == 0) {
        return core::make_error(core::ErrorKind::invalid_input, "InvalidArgument",
                                "max_part_size must be positive");
    }
    // Nothing touches the disk until the first part arrives: the id is the record.
    return sealer_.mint(UploadRecord{key, max_part_size, core::to_unix(clock_.now())});
}

core::Result<std::vector<std::string>> LocalObjectStore::presign_parts(const std::string& key,
                                                                       const std::string& upload_id,
                                                                       std::uint32_t part_count,
                                                                       std::chrono::seconds ttl) {
    if (!is_valid_key(key)) return invalid_key(key);
    if (!is_valid_upload_id(upload_id)) return no_such_upload(upload_id);
    if (part_count > kMaxPartNumber) return invalid_part_number(part_count);
    AUDIODROP_TRY_ASSIGN(auto in, presign_input("PUT", key, ttl));
    return s3::presign_upload_parts(options_.credentials, std::move(in), upload_id, part_count);
}

core::Result<std::string> LocalObjectStore::presign_get(const std::string& key,
                                                        std::chrono::seconds ttl) {
    if (!is_valid_key(key)) return invalid_key(key);
    AUDIODROP_TRY_ASSIGN(const auto in, presign_input("GET", key, ttl));
    return s3::presign_url(options_.credentials, in);
}

core::Result<s3::PresignInput> LocalObjectStore::presign_input(std::string method,
                                                               const std::string& key,
                                                               std::chrono::seconds ttl) const {
    AUDIODROP_TRY(s3::check_presign_ttl(ttl));
    s3::PresignInput in;
    in.method = std::move(method);
    in.endpoint = options_.public_url;
    in.path = "/" + options_.bucket + "/" + key;
    in.now = clock_.now();
    in.expires = ttl;
    in.region = options_.region;
    return in;
}

core::Result<LocalObjectStore::KnownUpload> LocalObjectStore::find_upload(
    const std::string& key, const std::string& upload_id) {
    if (!is_valid_key(key) || !is_valid_upload_id(upload_id)) return no_such_upload(upload_id);
    auto text = read_small_file(layout_.upload_dir(upload_id) / kUploadRecordName);
    if (text) {
        auto record = decode_upload_record(*text);
        if (!record) return record.error();
        // S3 answers NoSuchUpload when the upload id belongs to another key.
        if (record->key != key) return no_such_upload(upload_id);
        return KnownUpload{std::move(*record), true};
    }
    if (!is_not_found(text.error())) return text.error();
    // No directory yet: the upload exists if its id is one of ours for this key, and
    // it has neither ended nor become the key's object.
    auto sealed = sealer_.open(upload_id, key);
    if (!sealed || path_exists(layout_.ended_mark(upload_id))) return no_such_upload(upload_id);
    if (auto object = read_object_manifest(key); object && object->upload_id == upload_id) {
        return no_such_upload(upload_id);
    }
    return KnownUpload{std::move(*sealed), false};
}

core::Result<void> LocalObjectStore::materialize(const std::string& upload_id,
                                                 const UploadRecord& record) {
    // Built in tmp/ and renamed in whole, so an upload directory always has its record.
    const auto staging = layout_.new_temp_path();
    auto r = make_dir(staging);
    if (r) r = write_new_file(staging / kUploadRecordName, encode(record));
    if (r) r = sync_dir(staging);
    if (r) r = rename_path(staging, layout_.upload_dir(upload_id));
    if (r) r = sync_dir(layout_.uploads());
    if (!r) remove_tree_quietly(staging);
    return r;
}

core::Result<void> LocalObjectStore::end_upload(const std::string& upload_id) {
    auto mark = write_new_file(layout_.ended_mark(upload_id), "");
    if (!mark && path_exists(layout_.ended_mark(upload_id))) mark = {};  // ended before
    if (mark) mark = sync_dir(layout_.ended());
    sweep_ended();
    return mark;
}

core::Result<std::vector<PartInfo>> LocalObjectStore::list_parts(const std::string& key,
                                                                 const std::string& upload_id) {
    AUDIODROP_TRY_ASSIGN(const auto known, find_upload(key, upload_id));
    if (!known.materialized) return std::vector<PartInfo>{};
    auto scan = scan_parts(layout_.upload_dir(upload_id));
    if (!scan) return is_not_found(scan.error()) ? no_such_upload(upload_id) : scan.error();
    std::vector<PartInfo> parts;
    parts.reserve(scan->parts.size());
    for (auto& [number, part] : scan->parts) parts.push_back(std::move(part.info));
    return parts;
}

core::Result<std::unique_ptr<PartWriter>> LocalObjectStore::begin_part(
    const std::string& key, const std::string& upload_id, std::uint32_t part_number,
    std::uint64_t content_length) {
    AUDIODROP_TRY_ASSIGN(const auto known, find_upload(key, upload_id));
    if (!is_valid_part_number(part_number)) return invalid_part_number(part_number);
    if (content_length > known.record.max_part_size) {
        return core::make_error(core::ErrorKind::too_large, "EntityTooLarge",
                                "a part of " + std::to_string(content_length) +
                                    " bytes is over this upload's part size of " +
                                    std::to_string(known.record.max_part_size));
    }
    auto temp = File::open(layout_.new_temp_path(), O_WRONLY | O_CREAT | O_EXCL, 0600);
    if (!temp) return temp.error();
    return std::make_unique<LocalPartWriter>(
        std::move(*temp), PartDestination{key, upload_id, part_number, content_length}, *this);
}

core::Result<void> LocalObjectStore::install_part(const PartDestination& destination, File& temp,
                                                  const std::string& etag) {
    const auto& upload_id = destination.upload_id;
    const auto dir = layout_.upload_dir(upload_id);
    const std::string file_name = part_file_name(destination.part_number, etag);
    {
        auto guard = upload_locks_.lock(upload_id);
        // Completed, aborted or decided by a manifest while the body streamed in.
        AUDIODROP_TRY_ASSIGN(const auto known, find_upload(destination.key, upload_id));
        if (!known.materialized) {
            AUDIODROP_TRY(materialize(upload_id, known.record));
        } else if (path_exists(dir / kManifestName)) {
            return no_such_upload(upload_id);
        }
        auto existing = scan_parts(dir, destination.part_number);
        if (!existing) return existing.error();
        std::vector<std::string> older = std::move(existing->superseded);
        std::int64_t newest = 0;
        for (const auto& [number, part] : existing->parts) {
            older.push_back(part.file);
            newest = std::max(newest, part.mtime_ns);
        }
        AUDIODROP_TRY(stamp_after(temp, newest));
        if (auto r = rename_path(temp.path(), dir / file_name); !r) {
            return is_not_found(r.error()) ? no_such_upload(upload_id) : r;
        }
        for (const auto& name : older) {
            // A re-upload of identical bytes has the same name and was replaced in place.
            if (name != file_name) ::unlink((dir / name).c_str());
        }
        frontiers_.part_committed(upload_id, destination.part_number);
    }
    // Outside the lock: the rename is visible already; this makes it durable before
    // the caller acknowledges the part.
    return sync_dir(dir);
}

core::Result<ObjectInfo> LocalObjectStore::complete(
    const std::string& key, const std::string& upload_id, const std::vector<PartRef>& parts,
    const std::optional<std::string>& expected_md5) {
    if (!is_valid_key(key) || !is_valid_upload_id(upload_id)) return no_such_upload(upload_id);
    auto wanted = normalise_part_list(parts);
    if (!wanted) return wanted.error();
    auto guard = upload_locks_.lock(upload_id);
    return complete_locked(key, upload_id, *wanted, expected_md5);
}

core::Result<std::unique_ptr<ObjectReader>> LocalObjectStore::read_upload(
    const std::string& key, const std::string& upload_id, const std::vector<PartRef>& parts) {
    if (!is_valid_key(key) || !is_valid_upload_id(upload_id)) return no_such_upload(upload_id);
    AUDIODROP_TRY_ASSIGN(const auto wanted, normalise_part_list(parts));
    auto guard = upload_locks_.lock(upload_id);
    AUDIODROP_TRY(find_upload(key, upload_id));
    AUDIODROP_TRY_ASSIGN(const auto manifest, build_manifest(key, upload_id, wanted));
    // The reader holds every part file open: a part replaced after this lock is released
    // leaves the bytes read here as they were.
    AUDIODROP_TRY_ASSIGN(auto reader,
                         LocalObjectReader::open(layout_.upload_dir(upload_id), manifest));
    return std::unique_ptr<ObjectReader>(std::move(reader));
}

core::Result<ObjectInfo> LocalObjectStore::complete_locked(
    const std::string& key, const std::string& upload_id, const std::vector<PartRef>& parts,
    const std::optional<std::string>& expected_md5) {
    auto known = find_upload(key, upload_id);
    if (!known) {
        if (!is_not_found(known.error())) return known.error();
        // A retry of a complete that already succeeded answers the same object.
        auto existing = read_object_manifest(key);
        if (!existing || existing->upload_id != upload_id || !same_parts(*existing, parts)) {
            return known.error();
        }
        if (md5_differs(expected_md5, existing->md5)) {
            return bad_digest(*expected_md5, existing->md5);
        }
        return info_of(*existing);
    }

    if (!known->materialized) return never_uploaded(parts.front().part_number);
    const auto dir = layout_.upload_dir(upload_id);
    auto decided_text = read_small_file(dir / kManifestName);
    if (decided_text) {
        // An earlier complete wrote its manifest but could not rename: finish that one
        // if it is this one, else it never answered success and is dropped.
        auto decided = decode_manifest(*decided_text);
        if (decided && same_parts(*decided, parts) && !md5_differs(expected_md5, decided->md5)) {
            if (auto r = finish_complete(*decided); !r) return r.error();
            return info_of(*decided);
        }
        if (::unlink((dir / kManifestName).c_str()) != 0) {
            return io_error("unlink", dir / kManifestName, errno);
        }
    } else if (!is_not_found(decided_text.error())) {
        return decided_text.error();
    }

    auto manifest = build_manifest(key, upload_id, parts);
    if (!manifest) return manifest.error();
    if (md5_differs(expected_md5, manifest->md5)) return bad_digest(*expected_md5, manifest->md5);

    // The commit point: from here a crash finishes this complete at the next start.
    if (auto r =
            write_file_durably(layout_.new_temp_path(), dir / kManifestName, encode(*manifest));
        !r) {
        return r.error();
    }
    if (auto r = finish_complete(*manifest); !r) {
        // Reopen the upload, as the caller is told the complete failed. If even this
        // fails, a retry or the next start finishes the manifest instead.
        ::unlink((dir / kManifestName).c_str());
        return r.error();
    }
    return info_of(*manifest);
}

core::Result<Manifest> LocalObjectStore::build_manifest(const std::string& key,
                                                        const std::string& upload_id,
                                                        const std::vector<PartRef>& parts) {
    const auto dir = layout_.upload_dir(upload_id);
    auto scan = scan_parts(dir);
    if (!scan) return scan.error();

    Manifest manifest;
    manifest.key = key;
    manifest.upload_id = upload_id;
    std::vector<StoredPart> named;
    named.reserve(parts.size());
    for (const auto& wanted : parts) {
        auto found = scan->parts.find(wanted.part_number);
        if (found == scan->parts.end()) return never_uploaded(wanted.part_number);
        if (found->second.info.etag != wanted.etag) {
            return core::make_error(core::ErrorKind::invalid_input, "InvalidPart",
                                    "part " + std::to_string(wanted.part_number) +
                                        ": expected ETag " + wanted.etag +
                                        ", the stored part has " + found->second.info.etag);
        }
        const auto& info = found->second.info;
        manifest.parts.push_back(
            ManifestPart{wanted.part_number, found->second.file, info.size, wanted.etag});
        manifest.size += info.size;
        named.push_back(found->second);
    }
    // Mostly hashed already, as the parts arrived.
    AUDIODROP_TRY_ASSIGN(const auto md5, frontiers_.whole_md5(upload_id, named));
    manifest.md5 = core::to_hex(md5.digest());
    manifest.completed_at = core::to_unix(clock_.now());
    return manifest;
}

core::Result<void> LocalObjectStore::finish_complete(const Manifest& manifest) {
    auto guard = key_locks_.lock(manifest.key);
    const auto object_dir = layout_.object_dir(manifest.key);
    const auto upload_dir = layout_.upload_dir(manifest.upload_id);

    // Directories cannot be renamed over a non-empty one, so an older object of this
    // key goes to tmp/ first. A crash in between leaves the manifest-bearing upload,
    // which the next start renames in.
    std::optional<std::filesystem::path> displaced;
    if (path_exists(object_dir)) {
        // The older object's manifest is what keeps parts from arriving for its upload;
        // that upload ends for good before the manifest goes.
        if (auto older = read_object_manifest(manifest.key);
            older && older->upload_id != manifest.upload_id) {
            AUDIODROP_TRY(end_upload(older->upload_id));
        }
        displaced = layout_.new_temp_path();
        if (auto r = rename_path(object_dir, *displaced); !r) return r;
    }
    if (auto r = rename_path(upload_dir, object_dir); !r) {
        if (displaced) ::rename(displaced->c_str(), object_dir.c_str());
        return r;
    }
    if (auto r = sync_dir(layout_.objects()); !r) return r;
    if (auto r = sync_dir(layout_.uploads()); !r) return r;
    if (displaced) remove_tree_quietly(*displaced);

    frontiers_.forget(manifest.upload_id);
    ::unlink((object_dir / Md5Frontiers::kFileName).c_str());
    std::set<std::string> named;
    for (const auto& p : manifest.parts) named.insert(p.file);
    if (auto scan = scan_parts(object_dir)) {
        for (const auto& name : scan->superseded) ::unlink((object_dir / name).c_str());
        for (const auto& [number, part] : scan->parts) {
            if (!named.contains(part.file)) ::unlink((object_dir / part.file).c_str());
        }
    }
    return {};
}

core::Result<void> LocalObjectStore::abort(const std::string& key, const std::string& upload_id) {
    if (!is_valid_key(key) || !is_valid_upload_id(upload_id)) return no_such_upload(upload_id);
    auto guard = upload_locks_.lock(upload_id);
    AUDIODROP_TRY_ASSIGN(const auto known, find_upload(key, upload_id));
    // First the mark, so no part can arrive (and write the directory anew) after this.
    AUDIODROP_TRY(end_upload(upload_id));
    frontiers_.forget(upload_id);
    if (!known.materialized) return {};
    const auto trash = layout_.new_temp_path();
    if (auto r = rename_path(layout_.upload_dir(upload_id), trash); !r) {
        return is_not_found(r.error()) ? no_such_upload(upload_id) : r.error();
    }
    auto synced = sync_dir(layout_.uploads());
    remove_tree_quietly(trash);
    return synced;
}

core::Result<Manifest> LocalObjectStore::read_object_manifest(const std::string& key) {
    if (!is_valid_key(key)) return no_such_key(key);
    auto text = read_small_file(layout_.object_dir(key) / kManifestName);
    if (!text) return is_not_found(text.error()) ? no_such_key(key) : text.error();
    return decode_manifest(*text);
}

core::Result<ObjectInfo> LocalObjectStore::stat(const std::string& key) {
    auto manifest = read_object_manifest(key);
    if (!manifest) return manifest.error();
    return info_of(*manifest);
}

core::Result<std::unique_ptr<ObjectReader>> LocalObjectStore::open_object(const std::string& key) {
    auto manifest = read_object_manifest(key);
    if (!manifest) return manifest.error();
    auto reader = LocalObjectReader::open(layout_.object_dir(key), *manifest);
    // Removed between reading the manifest and opening its parts.
    if (!reader) return is_not_found(reader.error()) ? no_such_key(key) : reader.error();
    return std::unique_ptr<ObjectReader>(std::move(*reader));
}

core::Result<void> LocalObjectStore::remove(const std::string& key) {
    if (!is_valid_key(key)) return invalid_key(key);
    auto guard = key_locks_.lock(key);
    // The object's manifest is what keeps parts from arriving for its upload; the
    // upload ends for good before the manifest goes.
    if (auto manifest = read_object_manifest(key); manifest) {
        AUDIODROP_TRY(end_upload(manifest->upload_id));
    }
    const auto trash = layout_.new_temp_path();
    if (auto r = rename_path(layout_.object_dir(key), trash); !r) {
        return is_not_found(r.error()) ? core::Result<void>{} : r;
    }
    auto synced = sync_dir(layout_.objects());
    remove_tree_quietly(trash);
    return synced;
}

std::optional<std::uint64_t> LocalObjectStore::free_bytes() const {
    struct statvfs fs {};
    if (statvfs(layout_.root().c_str(), &fs) != 0) return std::nullopt;
    return static_cast<std::uint64_t>(fs.f_bavail) * fs.f_frsize;
}

}  // namespace audiodrop::storage
