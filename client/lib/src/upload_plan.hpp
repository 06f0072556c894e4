#pragma once

// Where an upload starts: a fresh plan from generate-presigned-urls, or the journal's
// upload resumed with what the list-parts extension says the server already holds.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "api_call.hpp"
#include "upload_journal.hpp"

namespace audiodrop::client {

struct FileInfo {
    std::string path;  // absolute
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
};

Result<FileInfo> inspect(const std::filesystem::path& file);

// An ETag without its surrounding quotes.
std::string unquote(std::string_view etag);

struct Plan {
    UploadJournal journal;
    std::map<std::uint32_t, std::string> on_server;  // PartNumber -> unquoted ETag
    bool resumed = false;
};

// Best effort: the stale upload would otherwise count against the open-upload limit until
// it expires. Servers without the abort extension answer 404, which is fine.
void abort_stale(ApiContext& ctx, std::string_view token, const UploadJournal& journal);

// What the server holds of the journal's upload (the list-parts extension): the
// PartNumber -> unquoted ETag of every part received. Fails when the upload is gone,
// completed, or the plan no longer matches the server's (part count, ChunkSize).
Result<std::map<std::uint32_t, std::string>> parts_on_server(ApiContext& ctx,
                                                             std::string_view token,
                                                             const UploadJournal& journal);

// The journal's upload if the file is unchanged (size, mtime, filetype) and the server
// still lists it; nullopt means start over (a changed file's upload is aborted).
std::optional<Plan> resume_plan(ApiContext& ctx, std::string_view token,
                                const std::filesystem::path& journal_file, const FileInfo& info,
                                const UploadOptions& options);

// generate-presigned-urls, checked for a consistent plan (parts 1..N covering the size).
Result<Plan> fresh_plan(ApiContext& ctx, std::string_view token, const FileInfo& info,
                        const UploadOptions& options);

}  // namespace audiodrop::client
