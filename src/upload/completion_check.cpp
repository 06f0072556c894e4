#include "upload/completion_check.hpp"

#include <algorithm>
#include <cctype>

#include "core/hashing.hpp"

namespace audiodrop::upload {
namespace {

using core::ErrorKind;
using core::make_error;

std::optional<std::string> lower_hex32(std::string_view s) {
    if (s.size() != 32) return std::nullopt;
    std::string out;
    out.reserve(32);
    for (char c : s) {
        if (!std::isxdigit(static_cast<unsigned char>(c))) return std::nullopt;
        out.push_back(static_cast<char>(std::tolower(static_cast<unsigned char>(c))));
    }
    return out;
}

core::Error part_list_error(std::string message) {
    return make_error(ErrorKind::invalid_input, "invalid_part_list", std::move(message));
}

}  // namespace

std::optional<std::string> normalize_etag(std::string_view etag) {
    if (etag.size() == 34 && etag.front() == '"' && etag.back() == '"') {
        etag = etag.substr(1, 32);
    }
    return lower_hex32(etag);
}

std::optional<std::string> normalize_md5(std::string_view md5) { return lower_hex32(md5); }

core::Result<std::vector<storage::PartRef>> check_part_list(const std::vector<RequestedPart>& list,
                                                            std::uint32_t part_count) {
    if (list.size() != part_count) {
        return part_list_error("part_list names " + std::to_string(list.size()) +
                               " parts; this upload has " + std::to_string(part_count) +
                               " (PartNumber 1.." + std::to_string(part_count) + ")");
    }
    std::vector<storage::PartRef> refs;
    refs.reserve(list.size());
    for (std::size_t i = 0; i < list.size(); ++i) {
        const auto expected = static_cast<std::int64_t>(i + 1);
        const auto& p = list[i];
        if (p.part_number != expected) {
            return part_list_error("part_list must list PartNumber 1.." +
                                   std::to_string(part_count) +
                                   " once each in ascending order; entry " + std::to_string(i + 1) +
                                   " has PartNumber " + std::to_string(p.part_number));
        }
        auto etag = normalize_etag(p.etag);
        if (!etag) {
            return make_error(ErrorKind::invalid_input, "invalid_part",
                              "ETag of part " + std::to_string(expected) +
                                  " is not a quoted 32-digit hex MD5 as returned by the PUT");
        }
        refs.push_back(storage::PartRef{static_cast<std::uint32_t>(expected), *etag});
    }
    return refs;
}

core::Result<void> check_against_stored(const std::vector<storage::PartRef>& parts,
                                        const std::vector<storage::PartInfo>& stored,
                                        const PartPlan& plan, std::uint64_t filesize) {
    std::uint64_t total = 0;
    for (const auto& ref : parts) {
        auto it = std::lower_bound(
            stored.begin(), stored.end(), ref.part_number,
            [](const storage::PartInfo& s, std::uint32_t n) { return s.part_number < n; });
        if (it == stored.end() || it->part_number != ref.part_number) {
            return make_error(ErrorKind::invalid_input, "invalid_part",
                              "part " + std::to_string(ref.part_number) +
                                  " has not been uploaded; PUT it to its PresignedUrl first");
        }
        if (it->etag != ref.etag) {
            return make_error(ErrorKind::invalid_input, "invalid_part",
                              "ETag of part " + std::to_string(ref.part_number) + " is \"" +
                                  ref.etag + "\" in part_list but the stored part has \"" +
                                  it->etag + "\"");
        }
        const std::uint64_t want = plan.part_size(ref.part_number, filesize);
        if (it->size != want) {
            return make_error(
                ErrorKind::invalid_input, "invalid_part_size",
                "part " + std::to_string(ref.part_number) + " is " + std::to_string(it->size) +
                    " bytes; it must be " + std::to_string(want) + " (ChunkSize " +
                    std::to_string(plan.chunk_size) + ", the last part the remainder of filesize " +
                    std::to_string(filesize) + ")");
        }
        total += it->size;
    }
    if (total != filesize) {
        return make_error(ErrorKind::invalid_input, "invalid_part_size",
                          "the parts add up to " + std::to_string(total) +
                              " bytes but filesize is " + std::to_string(filesize));
    }
    return {};
}

std::string part_list_digest(const std::vector<storage::PartRef>& parts) {
    core::Sha256 h;
    for (const auto& p : parts) {
        h.update(std::to_string(p.part_number));
        h.update(":");
        h.update(p.etag);
        h.update("\n");
    }
    return core::to_hex(h.finish());
}

}  // namespace audiodrop::upload
