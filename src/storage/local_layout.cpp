#include "storage/local_layout.hpp"

#include <sys/stat.h>

#include <cerrno>
#include <charconv>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>

#include "core/ids.hpp"
#include "storage/posix_file.hpp"
#include "storage/sealed_upload_id.hpp"

namespace audiodrop::storage {
namespace {

using nlohmann::json;

constexpr std::size_t kPartDigits = 5;

bool is_key_char(char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '_' || c == '-';
}

core::Error corrupt(std::string_view what, std::string_view detail) {
    return core::make_error(core::ErrorKind::internal, "InternalError",
                            std::string(what) + " is unreadable: " + std::string(detail));
}

std::int64_t mtime_ns(const struct stat& st) {
    return static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
}

}  // namespace

bool is_valid_key(std::string_view key) {
    if (key.empty() || key.size() > kMaxKeyLength || key.front() == '.') return false;
    for (char c : key) {
        if (!is_key_char(c)) return false;
    }
    return true;
}

bool is_valid_upload_id(std::string_view upload_id) {
    // Plain ids from before sealing, and sealed ones.
    return core::looks_like_id(upload_id, kUploadIdPrefix) ||
           UploadIdSealer::looks_sealed(upload_id);
}

bool is_valid_part_number(std::uint32_t part_number) {
    return part_number >= 1 && part_number <= kMaxPartNumber;
}

bool is_md5_hex(std::string_view s) {
    if (s.size() != 32) return false;
    for (char c : s) {
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    }
    return true;
}

std::filesystem::path LocalLayout::new_temp_path() const { return tmp() / core::new_id("tmp_"); }

std::string part_file_name(std::uint32_t part_number, std::string_view etag) {
    char digits[kPartDigits + 1];
    std::snprintf(digits, sizeof digits, "%05u", static_cast<unsigned>(part_number));
    return std::string(digits) + "." + std::string(etag);
}

std::optional<PartFileName> parse_part_file_name(std::string_view name) {
    if (name.size() != kPartDigits + 1 + 32 || name[kPartDigits] != '.') return std::nullopt;
    std::uint32_t number = 0;
    const auto digits = name.substr(0, kPartDigits);
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), number);
    if (ec != std::errc{} || end != digits.data() + digits.size()) return std::nullopt;
    const auto etag = name.substr(kPartDigits + 1);
    if (!is_valid_part_number(number) || !is_md5_hex(etag)) return std::nullopt;
    return PartFileName{number, std::string(etag)};
}

std::string encode(const UploadRecord& record) {
    return json{
        {"key", record.key}, {"max_part_size", record.max_part_size}, {"created", record.created}}
        .dump();
}

core::Result<UploadRecord> decode_upload_record(std::string_view text) {
    try {
        const json j = json::parse(text);
        UploadRecord r;
        r.key = j.at("key").get<std::string>();
        r.max_part_size = j.at("max_part_size").get<std::uint64_t>();
        r.created = j.at("created").get<std::int64_t>();
        if (!is_valid_key(r.key)) return corrupt("upload record", "bad key");
        return r;
    } catch (const json::exception& e) {
        return corrupt("upload record", e.what());
    }
}

std::string encode(const Manifest& manifest) {
    json parts = json::array();
    for (const auto& p : manifest.parts) {
        parts.push_back(
            {{"part_number", p.part_number}, {"file", p.file}, {"size", p.size}, {"etag", p.etag}});
    }
    return json{{"key", manifest.key},       {"upload_id", manifest.upload_id},
                {"size", manifest.size},     {"md5", manifest.md5},
                {"parts", std::move(parts)}, {"completed_at", manifest.completed_at}}
        .dump(1);
}

core::Result<Manifest> decode_manifest(std::string_view text) {
    try {
        const json j = json::parse(text);
        Manifest m;
        m.key = j.at("key").get<std::string>();
        m.upload_id = j.at("upload_id").get<std::string>();
        m.size = j.at("size").get<std::uint64_t>();
        m.md5 = j.at("md5").get<std::string>();
        m.completed_at = j.at("completed_at").get<std::int64_t>();
        for (const auto& p : j.at("parts")) {
            ManifestPart part;
            part.part_number = p.at("part_number").get<std::uint32_t>();
            part.file = p.at("file").get<std::string>();
            part.size = p.at("size").get<std::uint64_t>();
            part.etag = p.at("etag").get<std::string>();
            // The file name is joined into a path when the object is read.
            if (!parse_part_file_name(part.file)) return corrupt("manifest", "bad part file");
            m.parts.push_back(std::move(part));
        }
        if (!is_valid_key(m.key) || !is_valid_upload_id(m.upload_id)) {
            return corrupt("manifest", "bad key or upload id");
        }
        return m;
    } catch (const json::exception& e) {
        return corrupt("manifest", e.what());
    }
}

bool same_parts(const Manifest& manifest, const std::vector<PartRef>& parts) {
    if (manifest.parts.size() != parts.size()) return false;
    for (std::size_t i = 0; i < parts.size(); ++i) {
        if (manifest.parts[i].part_number != parts[i].part_number ||
            manifest.parts[i].etag != parts[i].etag) {
            return false;
        }
    }
    return true;
}

core::Result<PartScan> scan_parts(const std::filesystem::path& dir,
                                  std::optional<std::uint32_t> only) {
    std::error_code ec;
    std::filesystem::directory_iterator it(dir, ec);
    if (ec) return io_error("list", dir, ec.value());
    PartScan scan;
    for (; it != std::filesystem::directory_iterator(); it.increment(ec)) {
        const std::string name = it->path().filename().string();
        auto parsed = parse_part_file_name(name);
        if (!parsed || (only && parsed->part_number != *only)) continue;
        struct stat st {};
        if (::stat(it->path().c_str(), &st) != 0) {
            if (errno == ENOENT) continue;  // superseded while we listed
            return io_error("stat", it->path(), errno);
        }
        StoredPart found{
            PartInfo{parsed->part_number, parsed->etag, static_cast<std::uint64_t>(st.st_size)},
            name, mtime_ns(st)};
        auto [slot, inserted] = scan.parts.try_emplace(parsed->part_number, found);
        if (inserted) continue;
        // Ties (coarse timestamps) go to the larger name, so every reader agrees.
        const bool newer = found.mtime_ns > slot->second.mtime_ns ||
                           (found.mtime_ns == slot->second.mtime_ns && name > slot->second.file);
        if (newer) {
            scan.superseded.push_back(slot->second.file);
            slot->second = std::move(found);
        } else {
            scan.superseded.push_back(name);
        }
    }
    if (ec) return io_error("list", dir, ec.value());
    return scan;
}

}  // namespace audiodrop::storage
