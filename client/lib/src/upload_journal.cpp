#include "upload_journal.hpp"

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <system_error>

#include "core/hashing.hpp"

namespace audiodrop::client {

using nlohmann::json;

namespace {
constexpr int kJournalVersion = 1;
}

std::string encode_journal(const UploadJournal& j) {
    return json{{"version", kJournalVersion},
                {"endpoint", j.endpoint},
                {"path", j.path},
                {"size", j.size},
                {"mtime_ns", j.mtime_ns},
                {"filetype", j.filetype},
                {"file_id", j.file_id},
                {"upload_id", j.upload_id},
                {"chunk_size", j.chunk_size},
                {"part_urls", j.part_urls}}
        .dump();
}

std::optional<UploadJournal> decode_journal(std::string_view text) {
    const auto doc = json::parse(text, nullptr, false);
    if (doc.is_discarded() || !doc.is_object()) return std::nullopt;
    try {
        if (doc.at("version").get<int>() != kJournalVersion) return std::nullopt;
        UploadJournal j;
        j.endpoint = doc.at("endpoint").get<std::string>();
        j.path = doc.at("path").get<std::string>();
        j.size = doc.at("size").get<std::uint64_t>();
        j.mtime_ns = doc.at("mtime_ns").get<std::int64_t>();
        j.filetype = doc.at("filetype").get<std::string>();
        j.file_id = doc.at("file_id").get<std::string>();
        j.upload_id = doc.at("upload_id").get<std::string>();
        j.chunk_size = doc.at("chunk_size").get<std::uint64_t>();
        j.part_urls = doc.at("part_urls").get<std::vector<std::string>>();
        if (j.chunk_size == 0 || j.part_urls.empty() || j.file_id.empty()) return std::nullopt;
        return j;
    } catch (const json::exception&) {
        return std::nullopt;
    }
}

std::filesystem::path journal_path(const std::filesystem::path& state_dir,
                                   std::string_view endpoint, std::string_view absolute_path) {
    core::Md5 key;
    key.update(endpoint);
    key.update(std::string_view("\n"));
    key.update(absolute_path);
    return state_dir / ("upload-" + core::to_hex(key.digest()) + ".json");
}

std::optional<UploadJournal> read_journal(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return std::nullopt;
    std::ostringstream text;
    text << in.rdbuf();
    return decode_journal(text.str());
}

bool write_journal(const std::filesystem::path& path, const UploadJournal& journal) {
    std::error_code ec;
    std::filesystem::create_directories(path.parent_path(), ec);
    const auto temp = path.string() + ".tmp";
    {
        std::ofstream out(temp, std::ios::binary | std::ios::trunc);
        if (!out) return false;
        out << encode_journal(journal);
        out.flush();
        if (!out) return false;
    }
    std::filesystem::rename(temp, path, ec);
    return !ec;
}

}  // namespace audiodrop::client
