#include "upload_plan.hpp"

#include <sys/stat.h>

#include <nlohmann/json.hpp>
#include <system_error>

#include "json_fields.hpp"

namespace audiodrop::client {

using nlohmann::json;

Result<FileInfo> inspect(const std::filesystem::path& file) {
    std::error_code ec;
    const auto absolute = std::filesystem::absolute(file, ec);
    struct stat st {};
    if (ec || ::stat(absolute.c_str(), &st) != 0) {
        return Error{ErrorKind::io, 0, "not_found", "cannot read " + file.string()};
    }
    if (!S_ISREG(st.st_mode)) {
        return Error{ErrorKind::io, 0, "not_a_file", file.string() + " is not a regular file"};
    }
    return FileInfo{
        absolute.string(), static_cast<std::uint64_t>(st.st_size),
        static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec};
}

std::string unquote(std::string_view etag) {
    if (etag.size() >= 2 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, etag.size() - 2);
    }
    return std::string(etag);
}

void abort_stale(ApiContext& ctx, std::string_view token, const UploadJournal& journal) {
    const json body{{"file_id", journal.file_id}, {"upload_id", journal.upload_id}};
    (void)call_api(ctx, "POST", "/open/partner/files/upload/abort-upload",
                   {bearer(token), "Content-Type: application/json"}, body.dump());
}

std::optional<Plan> resume_plan(ApiContext& ctx, std::string_view token,
                                const std::filesystem::path& path, const FileInfo& info,
                                const UploadOptions& options) {
    auto journal = read_journal(path);
    if (!journal || journal->endpoint != ctx.options.endpoint || journal->path != info.path) {
        return std::nullopt;
    }
    if (journal->size != info.size || journal->mtime_ns != info.mtime_ns ||
        journal->filetype != options.filetype) {
        abort_stale(ctx, token, *journal);
        return std::nullopt;
    }
    // Without the list-parts extension (or if the upload is gone) this fails: start over.
    auto held = parts_on_server(ctx, token, *journal);
    if (!held) return std::nullopt;
    return Plan{std::move(*journal), std::move(*held), true};
}

Result<std::map<std::uint32_t, std::string>> parts_on_server(ApiContext& ctx,
                                                             std::string_view token,
                                                             const UploadJournal& journal) {
    auto listed =
        call_api(ctx, "GET",
                 "/open/partner/files/upload/parts?file_id=" + url_encode(journal.file_id) +
                     "&upload_id=" + url_encode(journal.upload_id),
                 {bearer(token)});
    if (!listed) return listed.error();
    if (static_cast<std::size_t>(int_field(*listed, "PartCount")) != journal.part_urls.size() ||
        static_cast<std::uint64_t>(int_field(*listed, "ChunkSize")) != journal.chunk_size) {
        return Error{ErrorKind::http, 200, "bad_response",
                     "the server lists another plan for this upload"};
    }
    std::map<std::uint32_t, std::string> held;
    const auto parts = listed->find("Parts");
    if (parts != listed->end() && parts->is_array()) {
        for (const auto& p : *parts) {
            const auto n = int_field(p, "PartNumber");
            if (n > 0) held[static_cast<std::uint32_t>(n)] = unquote(string_field(p, "ETag"));
        }
    }
    return held;
}

Result<Plan> fresh_plan(ApiContext& ctx, std::string_view token, const FileInfo& info,
                        const UploadOptions& options) {
    const json body{{"filesize", info.size}, {"filetype", options.filetype}};
    auto doc = call_api(ctx, "POST", "/open/partner/files/upload/generate-presigned-urls",
                        {bearer(token), "Content-Type: application/json"}, body.dump());
    if (!doc) return doc.error();
    Plan plan;
    auto& j = plan.journal;
    j.endpoint = ctx.options.endpoint;
    j.path = info.path;
    j.size = info.size;
    j.mtime_ns = info.mtime_ns;
    j.filetype = options.filetype;
    j.file_id = string_field(*doc, "FileId");
    j.upload_id = string_field(*doc, "UploadId");
    j.chunk_size = static_cast<std::uint64_t>(int_field(*doc, "ChunkSize"));
    std::map<std::int64_t, std::string> urls;
    const auto parts = doc->find("Parts");
    if (parts != doc->end() && parts->is_array()) {
        for (const auto& p : *parts)
            urls[int_field(p, "PartNumber")] = string_field(p, "PresignedUrl");
    }
    for (const auto& [n, url] : urls) j.part_urls.push_back(url);
    const auto count = j.part_urls.size();
    const bool consistent =
        !j.file_id.empty() && !j.upload_id.empty() && j.chunk_size > 0 && count > 0 &&
        urls.begin()->first == 1 && urls.rbegin()->first == static_cast<std::int64_t>(count) &&
        (count - 1) * j.chunk_size < info.size && info.size <= count * j.chunk_size;
    if (!consistent) {
        return Error{ErrorKind::http, 200, "bad_response",
                     "generate-presigned-urls answered an inconsistent upload plan"};
    }
    return plan;
}

}  // namespace audiodrop::client
