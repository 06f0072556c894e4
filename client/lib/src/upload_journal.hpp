#pragma once

// The resume journal: one small JSON file per (endpoint, absolute file path) in the state
// dir, written (temp file + rename) right after generate-presigned-urls and removed once
// the upload completes. It remembers what is needed to continue: the FileId/UploadId,
// the presigned URLs (list-parts does not hand them out again) and what the file looked
// like (size, mtime) so a changed file starts over. A file rewritten in place with the
// same size and mtime is still safe: every part's MD5 is compared with the ETag the
// server holds, and a part that differs is sent again.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace audiodrop::client {

struct UploadJournal {
    std::string endpoint;
    std::string path;  // absolute
    std::uint64_t size = 0;
    std::int64_t mtime_ns = 0;
    std::string filetype;
    std::string file_id;
    std::string upload_id;
    std::uint64_t chunk_size = 0;
    std::vector<std::string> part_urls;  // index 0 is PartNumber 1
};

std::string encode_journal(const UploadJournal& journal);
// nullopt when `text` is not a well-formed journal (a torn or foreign file).
std::optional<UploadJournal> decode_journal(std::string_view text);

std::filesystem::path journal_path(const std::filesystem::path& state_dir,
                                   std::string_view endpoint, std::string_view absolute_path);

std::optional<UploadJournal> read_journal(const std::filesystem::path& path);
// Atomic: readers see the old journal or the new one, never a torn one.
bool write_journal(const std::filesystem::path& path, const UploadJournal& journal);

}  // namespace audiodrop::client
