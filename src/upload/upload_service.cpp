#include "upload/upload_service.hpp"

#include <algorithm>
#include <cctype>

#include "core/ids.hpp"
#include "core/text.hpp"
#include "upload/upload_events.hpp"

namespace audiodrop::upload {
namespace {

using core::ErrorKind;
using core::make_error;
using metadata::UploadRecord;
using metadata::UploadState;

std::string join(const std::vector<std::string>& items) {
    std::string out;
    for (const auto& i : items) out += (out.empty() ? "" : ", ") + i;
    return out;
}

// The API's words for a refusal by the store's quota (Reason says which limit).
core::Error quota_error(const core::Error& refusal, const UploadOptions& o) {
    std::string code = "too_many_open_uploads";
    std::string message = "this user has " + std::to_string(o.max_open_uploads_per_user) +
                          " uploads in progress, the most allowed; complete or abort some first";
    if (refusal.reason == core::Reason::partner_upload_quota) {
        code = "partner_upload_quota";
        message = "this partner has " + std::to_string(o.max_open_uploads_per_partner) +
                  " uploads in progress across its users, the most allowed; complete or abort "
                  "some first";
    } else if (refusal.reason == core::Reason::partner_bytes_quota) {
        code = "partner_bytes_quota";
        message = "this partner's uploads in progress add up to nearly " +
                  std::to_string(o.max_open_bytes_per_partner) +
                  " bytes, the most allowed; complete or abort some first";
    }
    auto e = make_error(ErrorKind::rate_limited, std::move(code), std::move(message));
    e.retry_after_seconds = 60;
    return e;
}

bool is_quota_refusal(const core::Error& e) {
    return e.reason == core::Reason::open_upload_quota ||
           e.reason == core::Reason::partner_upload_quota ||
           e.reason == core::Reason::partner_bytes_quota;
}

core::Error content_mismatch(const std::string& problem, std::string_view outcome) {
    return make_error(ErrorKind::unprocessable, "content_mismatch",
                      problem + "; " + std::string(outcome));
}

// A store's refusal of the part list (S3's InvalidPart, InvalidPartOrder...): a part was
// replaced after the list was checked, say. The API names it as its own check does.
core::Error in_api_words(const core::Error& store_error) {
    if (store_error.kind != ErrorKind::invalid_input) return store_error;
    return make_error(ErrorKind::invalid_input, "invalid_part", store_error.message);
}

core::Error upload_not_found() {
    return make_error(ErrorKind::not_found, "upload_not_found",
                      "no upload with this file_id and upload_id belongs to this user");
}

}  // namespace

UploadService::UploadService(metadata::MetadataStore& metadata, storage::ObjectStore& objects,
                             const core::Clock& clock, UploadOptions options,
                             core::WorkerPool* background)
    : metadata_(metadata),
      objects_(objects),
      clock_(clock),
      options_(std::move(options)),
      background_(background) {}

core::Result<UploadService::Prepared> UploadService::prepare(const Owner& owner,
                                                             std::uint64_t filesize,
                                                             std::string_view filetype) {
    if (filesize == 0) {
        return make_error(ErrorKind::invalid_input, "invalid_filesize",
                          "filesize must be a positive integer (bytes)");
    }
    if (filesize > options_.max_file_size) {
        return make_error(ErrorKind::invalid_input, "filesize_too_large",
                          "filesize " + std::to_string(filesize) +
                              " is over this server's limit of " +
                              std::to_string(options_.max_file_size) + " bytes");
    }
    const std::string type = core::ascii_lowercase(filetype);
    const auto& allowed = options_.allowed_filetypes;
    if (std::find(allowed.begin(), allowed.end(), type) == allowed.end()) {
        return make_error(ErrorKind::invalid_input, "unsupported_filetype",
                          "filetype '" + std::string(filetype) +
                              "' is not allowed; use one of: " + join(allowed));
    }
    if (const auto free = objects_.free_bytes();
        free && *free < options_.min_free_bytes + filesize) {
        return make_error(ErrorKind::storage_full, "storage_full",
                          "free space " + std::to_string(*free) +
                              " bytes is below the reserve of " +
                              std::to_string(options_.min_free_bytes) + " plus this file");
    }
    const PartPlan plan = plan_parts(filesize);
    const auto now = clock_.now();
    UploadRecord u;
    u.file_id = core::new_id("file_");
    u.upload_id = core::new_id("upload_");
    u.client_id = owner.client_id;
    u.user_id = owner.user_id;
    u.filesize = filesize;
    u.filetype = type;
    u.chunk_size = plan.chunk_size;
    u.part_count = plan.part_count;
    u.object_key = u.file_id + "." + type;
    u.created_at = now;
    u.expires_at = now + options_.upload_ttl;
    AUDIODROP_TRY_ASSIGN(u.storage_upload_id,
                         objects_.create_multipart(u.object_key, plan.chunk_size));
    // Signed before the record is stored: after the commit only the answer is left.
    AUDIODROP_TRY_ASSIGN(auto urls, objects_.presign_parts(u.object_key, u.storage_upload_id,
                                                           plan.part_count, options_.upload_ttl));
    StartedUpload out{u.file_id, u.upload_id, plan.chunk_size, {}};
    out.parts.reserve(urls.size());
    for (std::uint32_t n = 1; n <= urls.size(); ++n) {
        out.parts.push_back(PresignedPart{n, std::move(urls[n - 1])});
    }
    return Prepared{std::move(u), std::move(out)};
}

void UploadService::generate_async(const Owner& owner, std::uint64_t filesize,
                                   std::string_view filetype, const EncodeStarted& encode,
                                   std::function<void(core::Result<std::string>)> done) {
    auto prepared = prepare(owner, filesize, filetype);
    if (!prepared) return done(prepared.error());
    const UploadRecord record = prepared->record;
    // The quota is checked with the insert, atomically, so racing requests never pass it.
    metadata_.create_upload_async(record, quota(),
                                  [this, answer = encode(prepared->started), record,
                                   done = std::move(done)](core::Result<void> stored) mutable {
                                      if (stored) return done(std::move(answer));
                                      done(not_stored(record, stored.error()));
                                  });
}

core::Result<StartedUpload> UploadService::generate(const Owner& owner, std::uint64_t filesize,
                                                    std::string_view filetype) {
    AUDIODROP_TRY_ASSIGN(auto prepared, prepare(owner, filesize, filetype));
    if (auto stored = metadata_.create_upload(prepared.record, quota()); !stored) {
        return not_stored(prepared.record, stored.error());
    }
    return std::move(prepared.started);
}

metadata::UploadQuota UploadService::quota() const {
    metadata::UploadQuota q(options_.max_open_uploads_per_user);
    q.open_per_partner = options_.max_open_uploads_per_partner;
    q.bytes_per_partner = options_.max_open_bytes_per_partner;
    return q;
}

core::Error UploadService::not_stored(const UploadRecord& u, const core::Error& refusal) {
    // No URL of this upload ever left the service: drop it from the object store, in
    // the background. Should the abort fail too, S3 keeps an upload nothing refers to,
    // until the bucket's lifecycle rule drops it.
    core::Task abort = [this, u] { (void)objects_.abort(u.object_key, u.storage_upload_id); };
    if (background_ == nullptr || !background_->try_submit(abort)) abort();
    if (is_quota_refusal(refusal)) return quota_error(refusal, options_);
    return refusal;
}

core::Result<UploadRecord> UploadService::find_owned(const Owner& owner, const std::string& file_id,
                                                     std::string_view not_found_code) {
    // Only ids this service minted can exist; anything else is not looked up at all
    // (PostgreSQL refuses text with NUL bytes, where SQLite would find nothing).
    std::optional<UploadRecord> found;
    if (core::looks_like_id(file_id, "file_")) {
        AUDIODROP_TRY_ASSIGN(found, metadata_.find_upload(file_id));
    }
    if (!found || found->client_id != owner.client_id || found->user_id != owner.user_id) {
        return make_error(ErrorKind::not_found, std::string(not_found_code),
                          "no file '" + file_id + "' belongs to this user");
    }
    return std::move(*found);
}

core::Result<UploadRecord> UploadService::find_owned_upload(const Owner& owner,
                                                            const std::string& file_id,
                                                            const std::string& upload_id) {
    auto u = find_owned(owner, file_id, "upload_not_found");
    if (!u || u->upload_id != upload_id) return upload_not_found();
    return u;
}

core::Result<void> UploadService::release_storage(const UploadRecord& u) {
    // Both, whatever the state: a complete that lost a race to an abort may have built
    // the object already, and the key is this file's alone.
    if (auto r = objects_.abort(u.object_key, u.storage_upload_id);
        !r && r.error().kind != ErrorKind::not_found) {
        return r.error();
    }
    return objects_.remove(u.object_key);
}

core::Result<void> UploadService::require_open(const UploadRecord& u) {
    switch (u.state) {
        case UploadState::open:
            if (clock_.now() < u.expires_at) return {};
            [[fallthrough]];
        case UploadState::expired:
            return make_error(ErrorKind::gone, "upload_expired",
                              "this upload expired before it was completed; start a new one");
        case UploadState::aborted:
            return make_error(ErrorKind::conflict, "upload_aborted", "this upload was aborted");
        case UploadState::completed:
            return make_error(ErrorKind::conflict, "upload_completed",
                              "this upload is already completed");
    }
    return make_error(ErrorKind::internal, "internal", "unknown upload state");
}

core::Result<CompletedFile> UploadService::completed_answer(const UploadRecord& u) {
    AUDIODROP_TRY_ASSIGN(auto url, objects_.presign_get(u.object_key, options_.download_url_ttl));
    return CompletedFile{u.file_id, u.filetype, std::move(url), u.file_md5};
}

core::Result<CompletedFile> UploadService::complete(const Owner& owner,
                                                    const CompleteRequest& req) {
    AUDIODROP_TRY_ASSIGN(auto u, find_owned_upload(owner, req.file_id, req.upload_id));
    if (u.state == UploadState::completed) {
        // A retry of the complete that succeeded gets the same answer; anything else
        // on a completed upload is a conflict.
        auto parts = check_part_list(req.part_list, u.part_count);
        if (parts && part_list_digest(*parts) == u.part_list_digest &&
            core::ascii_lowercase(req.filetype) == u.filetype) {
            return completed_answer(u);
        }
        return make_error(ErrorKind::conflict, "upload_completed",
                          "this upload was already completed with a different part_list");
    }
    AUDIODROP_TRY(require_open(u));
    if (core::ascii_lowercase(req.filetype) != u.filetype) {
        return make_error(ErrorKind::invalid_input, "filetype_mismatch",
                          "filetype '" + req.filetype + "' differs from '" + u.filetype +
                              "' given when the upload was started");
    }
    std::optional<std::string> want_md5;
    if (req.file_md5) {
        want_md5 = normalize_md5(*req.file_md5);
        if (!want_md5) {
            return make_error(ErrorKind::invalid_input, "invalid_file_md5",
                              "file_md5 must be the file's MD5 as 32 hex digits");
        }
    }
    AUDIODROP_TRY_ASSIGN(auto parts, check_part_list(req.part_list, u.part_count));
    const std::string digest = part_list_digest(parts);

    auto listed = objects_.list_parts(u.object_key, u.storage_upload_id);
    if (listed) {
        AUDIODROP_TRY(
            check_against_stored(parts, *listed, PartPlan{u.chunk_size, u.part_count}, u.filesize));
    } else if (listed.error().kind != ErrorKind::not_found) {
        return listed.error();
    }
    // A store that no longer knows the upload may have assembled it for a concurrent
    // complete: its complete is idempotent for the same parts and answers for that.

    bool probed = false;
    AUDIODROP_TRY_ASSIGN(auto findings, probe_before_complete(u, parts, probed));
    auto object = objects_.complete(u.object_key, u.storage_upload_id, parts, want_md5);
    if (!object) {
        switch (object.error().reason) {
            case core::Reason::digest_mismatch:
                return make_error(
                    ErrorKind::invalid_input, "md5_mismatch",
                    object.error().message +
                        "; the upload is still open: re-send the parts and complete again");
            case core::Reason::upload_consumed:
                return discarded(u, object.error());
            default:
                // The store failed or lost the upload under us: a concurrent complete,
                // abort or sweep that got there first says so in the record.
                return decided_elsewhere(owner, u, digest, in_api_words(object.error()));
        }
    }
    if (!probed && options_.content_check != ContentCheck::off) {
        auto found = probe_completed(u);
        // An abort or sweep that won a race may have removed the object meanwhile.
        if (!found) return decided_elsewhere(owner, u, digest, found.error());
        findings = std::move(*found);
        if (options_.content_check == ContentCheck::enforce && !findings.problem.empty()) {
            (void)objects_.remove(u.object_key);  // else purge_abandoned removes it
            return discarded(
                u, make_error(ErrorKind::unprocessable, "content_mismatch", findings.problem));
        }
    }
    u.state = UploadState::completed;
    u.file_md5 = object->md5;
    u.part_list_digest = digest;
    u.audio = findings.audio;
    u.audio_problem = findings.problem;
    const auto now = clock_.now();
    const auto event = file_uploaded_event(u, now);
    AUDIODROP_TRY_ASSIGN(
        auto won, metadata_.mark_completed(u.file_id,
                                           metadata::Completion{object->md5, digest, now,
                                                                findings.audio, findings.problem},
                                           &event));
    if (!won) {
        return decided_elsewhere(
            owner, u, digest,
            make_error(ErrorKind::conflict, "upload_completed",
                       "this upload was completed concurrently; retry to see its result"));
    }
    if (options_.event_written) options_.event_written();
    return completed_answer(u);
}

core::Result<AudioFindings> UploadService::probe_before_complete(
    const UploadRecord& u, const std::vector<storage::PartRef>& parts, bool& probed) {
    probed = false;
    if (options_.content_check == ContentCheck::off) return AudioFindings{};
    auto reader = objects_.read_upload(u.object_key, u.storage_upload_id, parts);
    // Null: the store reads it only once assembled. A failure is complete's to report,
    // which knows what a concurrent complete or abort means; the bytes are probed after.
    if (!reader || !*reader) return AudioFindings{};
    probed = true;
    AUDIODROP_TRY_ASSIGN(auto findings, probe(**reader, u));
    if (options_.content_check == ContentCheck::enforce && !findings.problem.empty()) {
        return content_mismatch(findings.problem,
                                "the upload is still open: re-send the right bytes and complete "
                                "again, or abort it");
    }
    return findings;
}

core::Result<AudioFindings> UploadService::probe_completed(const UploadRecord& u) {
    AUDIODROP_TRY_ASSIGN(auto reader, objects_.read_object(u.object_key));
    return probe(*reader, u);
}

core::Result<AudioFindings> UploadService::probe(storage::ObjectReader& reader,
                                                 const UploadRecord& u) {
    const auto started = std::chrono::steady_clock::now();
    AUDIODROP_TRY_ASSIGN(auto findings, inspect_audio(reader, u.filetype, options_.probe_limits));
    const auto took = std::chrono::duration_cast<std::chrono::microseconds>(
        std::chrono::steady_clock::now() - started);
    probes_.fetch_add(1, std::memory_order_relaxed);
    probe_bytes_.fetch_add(findings.bytes_read, std::memory_order_relaxed);
    probe_microseconds_.fetch_add(static_cast<std::uint64_t>(took.count()),
                                  std::memory_order_relaxed);
    if (!findings.problem.empty()) {
        probes_not_declared_audio_.fetch_add(1, std::memory_order_relaxed);
    }
    return findings;
}

UploadService::ProbeStats UploadService::probe_stats() const {
    return ProbeStats{probes_.load(), probe_bytes_.load(), probe_microseconds_.load(),
                      probes_not_declared_audio_.load()};
}

UploadService::EndedUploads UploadService::ended_uploads() const {
    return EndedUploads{aborted_.load(), expired_.load()};
}

core::Result<bool> UploadService::transition_with_event(const UploadRecord& u, UploadState to) {
    const auto now = clock_.now();
    const auto event =
        to == UploadState::expired ? upload_expired_event(u, now) : upload_aborted_event(u, now);
    AUDIODROP_TRY_ASSIGN(const bool won,
                         metadata_.transition(u.file_id, UploadState::open, to, &event));
    if (!won) return false;
    (to == UploadState::expired ? expired_ : aborted_).fetch_add(1, std::memory_order_relaxed);
    if (options_.event_written) options_.event_written();
    return true;
}

core::Error UploadService::discarded(const UploadRecord& u, const core::Error& refusal) {
    // A remote S3 cannot reopen an upload it has assembled: the parts are gone, and the
    // record must say so, or the upload would look open with nothing behind it.
    const std::string outcome = refusal.message +
                                "; the object store cannot reopen a completed upload, so this "
                                "one was discarded: start a new upload";
    auto ended = transition_with_event(u, UploadState::aborted);
    if (!ended) {
        // Still open on record; the expiry sweep ends it. The client must know the
        // upload is gone all the same.
        auto e = ended.error();
        e.message = outcome + " (recording that failed: " + e.message + ")";
        return e;
    }
    // false: an abort or the sweep ended it first, which is as good.
    if (refusal.reason == core::Reason::upload_consumed) {
        return make_error(ErrorKind::invalid_input, "md5_mismatch", outcome);
    }
    return make_error(refusal.kind, refusal.code, outcome);
}

core::Result<CompletedFile> UploadService::decided_elsewhere(const Owner& owner,
                                                             const UploadRecord& u,
                                                             const std::string& digest,
                                                             core::Error otherwise) {
    auto now_u = find_owned_upload(owner, u.file_id, u.upload_id);
    if (!now_u) return otherwise.kind == ErrorKind::not_found ? now_u.error() : otherwise;
    if (now_u->state == UploadState::completed && now_u->part_list_digest == digest) {
        return completed_answer(*now_u);  // the same complete, decided by another request
    }
    // An abort or sweep won: bytes this complete may have assembled are nobody's. If
    // dropping them fails, purge_abandoned drops them with the record.
    if (now_u->state != UploadState::open && now_u->state != UploadState::completed) {
        (void)release_storage(*now_u);
    }
    AUDIODROP_TRY(require_open(*now_u));
    return otherwise;
}

core::Result<ReceivedParts> UploadService::list_parts(const Owner& owner,
                                                      const std::string& file_id,
                                                      const std::string& upload_id) {
    AUDIODROP_TRY_ASSIGN(auto u, find_owned_upload(owner, file_id, upload_id));
    AUDIODROP_TRY(require_open(u));
    AUDIODROP_TRY_ASSIGN(auto parts, objects_.list_parts(u.object_key, u.storage_upload_id));
    return ReceivedParts{std::move(u), std::move(parts)};
}

core::Result<UploadRecord> UploadService::abort(const Owner& owner, const std::string& file_id,
                                                const std::string& upload_id) {
    AUDIODROP_TRY_ASSIGN(auto u, find_owned_upload(owner, file_id, upload_id));
    if (u.state == UploadState::aborted) return u;  // aborting twice is harmless
    AUDIODROP_TRY(require_open(u));
    AUDIODROP_TRY_ASSIGN(auto won, transition_with_event(u, UploadState::aborted));
    if (!won) {
        AUDIODROP_TRY_ASSIGN(auto now_u, find_owned_upload(owner, file_id, upload_id));
        if (now_u.state != UploadState::aborted) AUDIODROP_TRY(require_open(now_u));
        return now_u;
    }
    // The record already says aborted; a failure to drop the bytes now leaves them to
    // purge_abandoned (and the store's own expiry), never to a client.
    (void)release_storage(u);
    u.state = UploadState::aborted;
    return u;
}

core::Result<FileView> UploadService::get_file(const Owner& owner, const std::string& file_id) {
    AUDIODROP_TRY_ASSIGN(auto u, find_owned(owner, file_id, "file_not_found"));
    if (u.state == UploadState::open && clock_.now() >= u.expires_at)
        u.state = UploadState::expired;
    FileView view{std::move(u), std::nullopt};
    if (view.upload.state == UploadState::completed) {
        AUDIODROP_TRY_ASSIGN(view.download_url, objects_.presign_get(view.upload.object_key,
                                                                     options_.download_url_ttl));
    }
    return view;
}

core::Result<void> UploadService::delete_file(const Owner& owner, const std::string& file_id) {
    AUDIODROP_TRY_ASSIGN(auto u, find_owned(owner, file_id, "file_not_found"));
    AUDIODROP_TRY(release_storage(u));
    // Bytes first, record last: a crash in between leaves a record whose DELETE can be
    // repeated, never bytes nobody can find. Deleting an upload still open aborts it.
    const auto now = clock_.now();
    const auto event = u.state == UploadState::completed ? file_deleted_event(u, now)
                       : u.state == UploadState::open    ? upload_aborted_event(u, now)
                                                         : std::optional<metadata::OutboxEvent>();
    AUDIODROP_TRY(metadata_.remove_upload(u.file_id, event ? &*event : nullptr));
    if (u.state == UploadState::open) aborted_.fetch_add(1, std::memory_order_relaxed);
    if (event && options_.event_written) options_.event_written();
    return {};
}

core::Result<std::size_t> UploadService::sweep_expired(std::size_t batch) {
    AUDIODROP_TRY_ASSIGN(auto expired, metadata_.find_expired_open(clock_.now(), batch));
    std::size_t count = 0;
    for (const auto& u : expired) {
        AUDIODROP_TRY_ASSIGN(auto won, transition_with_event(u, UploadState::expired));
        if (!won) continue;  // completed or aborted meanwhile, or another replica got it
        ++count;
        AUDIODROP_TRY(release_storage(u));
    }
    return count;
}

core::Result<std::size_t> UploadService::purge_abandoned(std::size_t batch) {
    AUDIODROP_TRY_ASSIGN(auto abandoned, metadata_.find_abandoned(batch));
    const auto cutoff = clock_.now() - options_.abandoned_retention;
    std::size_t count = 0;
    for (const auto& u : abandoned) {
        if (u.expires_at > cutoff) break;  // oldest first: the rest are younger still
        AUDIODROP_TRY(release_storage(u));
        AUDIODROP_TRY(metadata_.remove_upload(u.file_id, nullptr));
        ++count;
    }
    return count;
}

core::Result<void> UploadService::check_ready() {
    AUDIODROP_TRY(metadata_.find_upload("file_readiness_probe"));
    if (auto r = objects_.stat("readiness-probe"); !r && r.error().kind != ErrorKind::not_found) {
        return r.error();
    }
    return {};
}

}  // namespace audiodrop::upload
