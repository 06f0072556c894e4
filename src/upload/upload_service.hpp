#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.hpp"
#include "core/error.hpp"
#include "core/worker_pool.hpp"
#include "metadata/metadata_store.hpp"
#include "storage/object_store.hpp"
#include "upload/completion_check.hpp"
#include "upload/content_check.hpp"
#include "upload/part_plan.hpp"

namespace audiodrop::upload {

// The user an upload belongs to: a partner's end user. Another owner's upload is
// reported as not found, never as forbidden, so ids leak nothing.
struct Owner {
    std::string client_id;
    std::string user_id;
};

struct UploadOptions {
    std::uint64_t max_file_size = 5ULL * 1024 * 1024 * 1024;
    std::vector<std::string> allowed_filetypes;  // lowercase
    std::chrono::seconds upload_ttl{24 * 3600};
    std::chrono::seconds download_url_ttl{24 * 3600};
    unsigned max_open_uploads_per_user = 100;
    std::uint64_t max_open_uploads_per_partner = 10'000;
    // Declared filesizes of a partner's open uploads, added up.
    std::uint64_t max_open_bytes_per_partner = 1ULL << 40;
    // Free space a local store keeps: an upload that would eat into it is refused
    // (storage_full) before any of its bytes arrive.
    std::uint64_t min_free_bytes = 1ULL << 30;
    // How long aborted and expired uploads stay visible (GET file says which) after
    // their expiry before purge_abandoned forgets them.
    std::chrono::seconds abandoned_retention{7 * 24 * 3600};
    // What complete does with the bytes (see ContentCheck), and the probe's bounds.
    ContentCheck content_check = ContentCheck::record;
    media::ProbeLimits probe_limits;
    // Called after a state change wrote a webhook event, so delivery need not wait for
    // the next poll. Must not block.
    std::function<void()> event_written;
};

struct PresignedPart {
    std::uint32_t part_number = 0;
    std::string url;
};

struct StartedUpload {
    std::string file_id;
    std::string upload_id;
    std::uint64_t chunk_size = 0;
    std::vector<PresignedPart> parts;
};

struct CompleteRequest {
    std::string file_id;
    std::string upload_id;
    std::vector<RequestedPart> part_list;
    std::string filetype;
    std::optional<std::string> file_md5;
};

struct CompletedFile {
    std::string file_id;
    std::string filetype;
    std::string download_url;
    std::string file_md5;
};

struct ReceivedParts {
    metadata::UploadRecord upload;
    std::vector<storage::PartInfo> parts;
};

struct FileView {
    metadata::UploadRecord upload;
    std::optional<std::string> download_url;  // only once completed
};

// The File Upload API's logic: plans uploads, checks completions, moves uploads
// through open -> completed | aborted | expired, and sweeps what was abandoned.
// Every state change is decided by one compare-and-set in the metadata store, so
// concurrent calls (or replicas) end in exactly one outcome. Thread-safe.
class UploadService {
  public:
    // `background` runs clean-up nobody waits for (dropping the object store's upload
    // of a generate whose record was refused); null: done at once, in the caller.
    UploadService(metadata::MetadataStore& metadata, storage::ObjectStore& objects,
                  const core::Clock& clock, UploadOptions options,
                  core::WorkerPool* background = nullptr);

    // Errors: invalid_input "filesize_too_large" / "unsupported_filetype";
    // rate_limited "too_many_open_uploads".
    core::Result<StartedUpload> generate(const Owner& owner, std::uint64_t filesize,
                                         std::string_view filetype);
    // generate for a caller that must not hold a thread while the record commits: the
    // checks, the object store's upload and the URLs happen in this call, and so does
    // encode(started), the caller's answer, made while the record commits. `done` gets
    // that answer once the record is durable (or the error), on the metadata store's
    // thread, and must not block.
    using EncodeStarted = std::function<std::string(const StartedUpload&)>;
    void generate_async(const Owner& owner, std::uint64_t filesize, std::string_view filetype,
                        const EncodeStarted& encode,
                        std::function<void(core::Result<std::string>)> done);
    // See DESIGN §2 complete-upload for every rule; idempotent for the same part list.
    core::Result<CompletedFile> complete(const Owner& owner, const CompleteRequest& req);
    core::Result<ReceivedParts> list_parts(const Owner& owner, const std::string& file_id,
                                           const std::string& upload_id);
    core::Result<metadata::UploadRecord> abort(const Owner& owner, const std::string& file_id,
                                               const std::string& upload_id);
    core::Result<FileView> get_file(const Owner& owner, const std::string& file_id);
    // Erases the file (or open upload) and its bytes.
    core::Result<void> delete_file(const Owner& owner, const std::string& file_id);

    // Expires open uploads past their expiry and releases their parts. Returns how
    // many it expired. Called periodically by the server; safe on several replicas.
    core::Result<std::size_t> sweep_expired(std::size_t batch);

    // Forgets aborted and expired uploads past abandoned_retention, releasing any bytes
    // they left. Returns how many it removed; safe on several replicas.
    core::Result<std::size_t> purge_abandoned(std::size_t batch);

    // Both stores answer (for /readyz).
    core::Result<void> check_ready();

    // What probing completed files has cost so far (for /metrics).
    struct ProbeStats {
        std::uint64_t probes = 0;
        std::uint64_t bytes_read = 0;
        std::uint64_t microseconds = 0;  // wall time spent probing
        std::uint64_t not_declared_audio = 0;
    };
    ProbeStats probe_stats() const;

    // Uploads this process ended without a file, each counted when the upload.aborted or
    // upload.expired event announcing it is written (for /metrics).
    struct EndedUploads {
        // By abort-upload, by deleting an open upload, or discarded when a store that
        // cannot reopen an upload had assembled bytes complete-upload then refused.
        std::uint64_t aborted = 0;
        std::uint64_t expired = 0;  // by the sweep
    };
    EndedUploads ended_uploads() const;

  private:
    // A generate up to storing its record.
    struct Prepared {
        metadata::UploadRecord record;
        StartedUpload started;
    };
    core::Result<Prepared> prepare(const Owner& owner, std::uint64_t filesize,
                                   std::string_view filetype);
    // The answer to a generate whose record was refused; drops its object store upload.
    core::Error not_stored(const metadata::UploadRecord& u, const core::Error& refusal);
    metadata::UploadQuota quota() const;
    core::Result<metadata::UploadRecord> find_owned(const Owner& owner, const std::string& file_id,
                                                    std::string_view not_found_code);
    core::Result<metadata::UploadRecord> find_owned_upload(const Owner& owner,
                                                           const std::string& file_id,
                                                           const std::string& upload_id);
    core::Result<CompletedFile> completed_answer(const metadata::UploadRecord& u);
    // What the bytes of a complete are, probed before the store assembles them where it
    // can read an open upload, else after. Under enforce, bytes that are not the
    // declared audio refuse the complete: the upload stays open where they were probed
    // first, and is discarded where the store had assembled them already.
    core::Result<AudioFindings> probe_before_complete(const metadata::UploadRecord& u,
                                                      const std::vector<storage::PartRef>& parts,
                                                      bool& probed);
    core::Result<AudioFindings> probe_completed(const metadata::UploadRecord& u);
    core::Result<AudioFindings> probe(storage::ObjectReader& reader,
                                      const metadata::UploadRecord& u);
    // The state change with its event, then the wake-up of the event's delivery.
    core::Result<bool> transition_with_event(const metadata::UploadRecord& u,
                                             metadata::UploadState to);
    core::Result<void> require_open(const metadata::UploadRecord& u);
    // Drops whatever bytes an upload that did not complete may have left.
    core::Result<void> release_storage(const metadata::UploadRecord& u);
    // The answer when the store had to discard the assembled upload because its bytes
    // were refused (file_md5 differed, or not the declared audio); records the upload as
    // aborted.
    core::Error discarded(const metadata::UploadRecord& u, const core::Error& refusal);
    // `error` from the object store, or the conflict the upload's current state explains.
    // Answers a complete of `u` (part list `digest`) that could not decide itself: as the
    // record now says when another request decided first, else with `otherwise`.
    core::Result<CompletedFile> decided_elsewhere(const Owner& owner,
                                                  const metadata::UploadRecord& u,
                                                  const std::string& digest, core::Error otherwise);

    metadata::MetadataStore& metadata_;
    storage::ObjectStore& objects_;
    const core::Clock& clock_;
    UploadOptions options_;
    core::WorkerPool* background_;
    std::atomic<std::uint64_t> probes_{0};
    std::atomic<std::uint64_t> probe_bytes_{0};
    std::atomic<std::uint64_t> probe_microseconds_{0};
    std::atomic<std::uint64_t> probes_not_declared_audio_{0};
    std::atomic<std::uint64_t> aborted_{0};
    std::atomic<std::uint64_t> expired_{0};
};

}  // namespace audiodrop::upload
