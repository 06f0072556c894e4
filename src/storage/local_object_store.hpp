#pragma once

// The default object store: bytes on the local disk, served to clients by the embedded
// S3 endpoint (src/http/) through the EmbeddedBucket side of this class.
//
// Layout under Options::root:
//   LOCK                               flock'ed while a store is open: one process per root
//   tmp/<tmp_id>                       part bodies being written, staging dirs and trash;
//                                      everything here is deleted at start
//   uploads/<upload_id>/upload.json    {key, max_part_size, created}; the directory is
//                                      built in tmp/ and renamed in, so it always has one
//   uploads/<upload_id>/00042.<etag>   one file per part; the ETag (hex MD5) is in the
//                                      name, so a name never exists without its bytes
//   uploads/<upload_id>/md5.frontier   the whole-file MD5 so far (md5_frontier.hpp)
//   uploads/<upload_id>/manifest.json  present only while a complete is half done
//   ended/<upload_id>                  empty: the upload was aborted (or its object
//                                      removed); kept 8 days, past any URL's life
//   objects/<key>/manifest.json        {key, upload_id, size, md5, parts[{part_number,
//                                      file, size, etag}], completed_at}
//   objects/<key>/00042.<etag> ...     the object's bytes: its manifest's parts in order
//
// Parts are users' recordings: directories are made 0700 and files 0600 (less the
// umask); modes of what an older version made are left as they are.
//
// Keys are one directory name: [A-Za-z0-9._-], no leading '.', at most 200 characters.
// Other keys are invalid_input where they would be created and not found where read.
// Upload ids are minted here ("mpu_...", sealed_upload_id.hpp) and checked before they
// become a path.
//
// Guarantees (kill -9 at any point):
// - Starting an upload writes nothing: the id carries its record. The first part to
//   arrive writes the upload directory (upload.json built in tmp/, fsynced, renamed in).
//   An upload is gone once aborted (ended/ says so, durably, before abort returns) or
//   completed (its object's manifest names it); parts sent to it then are refused.
// - A part is acknowledged (commit returns) only once its file is fsynced, renamed into
//   the upload directory and that directory fsynced. A re-upload renames the new file
//   in, then removes the older files of that part number; if a crash leaves two, the
//   newest mtime wins and start-up removes the others.
// - The whole-file MD5 advances in the background as parts arrive (Md5Frontiers), so
//   complete hashes only the parts it has not reached.
// - complete copies no bytes: it writes manifest.json into the upload directory (the
//   commit point), renames the directory to objects/<key> and fsyncs both parents.
//   Start-up finishes any upload directory holding a manifest, so a half-done complete
//   is finished; without a manifest, the upload is still open and the complete can be
//   redone. Part files left unnamed by a complete are removed after the rename (a crash
//   there can leave some behind in objects/<key>; they are never read and go with the
//   object).
// - abort and remove rename the directory into tmp/ first, so they are atomic, then
//   delete it.
//
// Thread-safe: operations on one upload (installing a part, complete, abort) and on one
// key (complete, remove) are serialised by per-name mutexes; different uploads never
// wait on each other. Readers open every part file up front and are unaffected by a
// later remove. Part writers borrow the store: it must outlive them.

#include <atomic>
#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.hpp"
#include "core/worker_pool.hpp"
#include "s3/sigv4.hpp"
#include "storage/embedded_bucket.hpp"
#include "storage/keyed_mutex.hpp"
#include "storage/local_layout.hpp"
#include "storage/local_part_writer.hpp"
#include "storage/md5_frontier.hpp"
#include "storage/object_store.hpp"
#include "storage/posix_file.hpp"
#include "storage/sealed_upload_id.hpp"

namespace audiodrop::storage {

class LocalObjectStore final : public ObjectStore, public EmbeddedBucket {
  public:
    struct Options {
        std::filesystem::path root;
        std::string bucket = "audiodrop";
        s3::Credentials credentials;  // signs presigned URLs; the endpoint verifies them
        std::string region = "us-east-1";
        std::string public_url;  // the storage endpoint as clients reach it, e.g.
                                 // "http://127.0.0.1:8081"
    };

    // Creates the directories, takes the root's lock and runs start-up recovery
    // (sweep tmp/, finish half-done completes, drop superseded part files).
    // unavailable "StoreLocked" when another open store holds the root. `hash_pool`
    // advances whole-file MD5s in the background; null: complete hashes every part.
    static core::Result<std::unique_ptr<LocalObjectStore>> open(
        Options options, const core::Clock& clock, core::WorkerPool* hash_pool = nullptr);

    // Does no I/O; call recover() before use (open() does both). recover() must run
    // before any request: it sweeps tmp/, where in-flight parts live.
    LocalObjectStore(Options options, const core::Clock& clock,
                     core::WorkerPool* hash_pool = nullptr);
    core::Result<void> recover();

    // ObjectStore
    core::Result<std::string> create_multipart(const std::string& key,
                                               std::uint64_t max_part_size) override;
    core::Result<std::vector<std::string>> presign_parts(const std::string& key,
                                                         const std::string& upload_id,
                                                         std::uint32_t part_count,
                                                         std::chrono::seconds ttl) override;
    core::Result<std::vector<PartInfo>> list_parts(const std::string& key,
                                                   const std::string& upload_id) override;
    core::Result<ObjectInfo> complete(const std::string& key, const std::string& upload_id,
                                      const std::vector<PartRef>& parts,
                                      const std::optional<std::string>& expected_md5) override;
    core::Result<void> abort(const std::string& key, const std::string& upload_id) override;
    core::Result<std::string> presign_get(const std::string& key,
                                          std::chrono::seconds ttl) override;
    core::Result<ObjectInfo> stat(const std::string& key) override;
    core::Result<std::unique_ptr<ObjectReader>> read_object(const std::string& key) override {
        return open_object(key);
    }
    core::Result<std::unique_ptr<ObjectReader>> read_upload(
        const std::string& key, const std::string& upload_id,
        const std::vector<PartRef>& parts) override;
    core::Result<void> remove(const std::string& key) override;
    // What the filesystem under the root still gives an unprivileged writer.
    std::optional<std::uint64_t> free_bytes() const override;

    // EmbeddedBucket
    const std::string& bucket() const override { return options_.bucket; }
    core::Result<std::unique_ptr<PartWriter>> begin_part(const std::string& key,
                                                         const std::string& upload_id,
                                                         std::uint32_t part_number,
                                                         std::uint64_t content_length) override;
    core::Result<std::unique_ptr<ObjectReader>> open_object(const std::string& key) override;

    // For LocalPartWriter: makes the fsynced `temp` part `destination.part_number` of its
    // upload, named by `etag`, and durable; writes the upload directory first if this
    // is the upload's first part. NoSuchUpload when the upload ended meanwhile.
    core::Result<void> install_part(const PartDestination& destination, File& temp,
                                    const std::string& etag);

    // Parts of the upload the whole-file MD5 covers so far.
    std::uint32_t parts_hashed(const std::string& upload_id) {
        return frontiers_.parts_hashed(upload_id);
    }
    // What hashing whole files has cost so far (for /metrics).
    Md5Frontiers::Stats hashing_stats() const { return frontiers_.stats(); }

  private:
    // An upload the store knows: its record and whether its directory exists yet.
    struct KnownUpload {
        UploadRecord record;
        bool materialized = false;
    };
    // The live upload `upload_id` of `key`, or NoSuchUpload.
    core::Result<KnownUpload> find_upload(const std::string& key, const std::string& upload_id);
    core::Result<void> materialize(const std::string& upload_id, const UploadRecord& record);
    // Marks the upload ended for good (durably): no part may arrive after this.
    core::Result<void> end_upload(const std::string& upload_id);
    // Drops ended/ marks older than any URL of their upload can be (at most hourly).
    void sweep_ended();
    core::Result<Manifest> read_object_manifest(const std::string& key);
    core::Result<ObjectInfo> complete_locked(const std::string& key, const std::string& upload_id,
                                             const std::vector<PartRef>& parts,
                                             const std::optional<std::string>& expected_md5);
    core::Result<Manifest> build_manifest(const std::string& key, const std::string& upload_id,
                                          const std::vector<PartRef>& parts);
    // Renames a decided upload directory (it holds `manifest`) to objects/<key>,
    // replacing an older object of that key, then drops the parts it did not name.
    core::Result<void> finish_complete(const Manifest& manifest);
    core::Result<void> recover_upload(const std::string& upload_id);
    // What every URL presigned for `key` shares: the endpoint, the path, the time.
    core::Result<s3::PresignInput> presign_input(std::string method, const std::string& key,
                                                 std::chrono::seconds ttl) const;

    Options options_;
    const core::Clock& clock_;
    LocalLayout layout_;
    File lock_file_;
    UploadIdSealer sealer_;
    KeyedMutex upload_locks_;
    KeyedMutex key_locks_;
    Md5Frontiers frontiers_;
    std::atomic<std::int64_t> ended_swept_at_{0};  // unix seconds
};

}  // namespace audiodrop::storage
