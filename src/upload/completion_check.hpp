#pragma once

// The rules a complete-upload request must pass before any bytes are assembled
// (DESIGN §2 "complete-upload"). Pure functions, so every rule is unit-tested.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/error.hpp"
#include "storage/object_store.hpp"
#include "upload/part_plan.hpp"

namespace audiodrop::upload {

// A part as the client named it in part_list, before any checking.
struct RequestedPart {
    std::int64_t part_number = 0;
    std::string etag;
};

// An ETag as clients send it ("\"ABC...\"", "abc...") -> lowercase hex without quotes;
// nullopt unless it is 32 hex digits, optionally in double quotes.
std::optional<std::string> normalize_etag(std::string_view etag);

// file_md5 -> lowercase hex; nullopt unless 32 hex digits.
std::optional<std::string> normalize_md5(std::string_view md5);

// part_list must name every part 1..part_count exactly once, ascending, each with a
// well-formed ETag. Errors: invalid_input "invalid_part_list" / "invalid_part".
core::Result<std::vector<storage::PartRef>> check_part_list(const std::vector<RequestedPart>& list,
                                                            std::uint32_t part_count);

// Each named part must have been received with the same ETag ("invalid_part"), every
// part but the last exactly chunk_size and the total exactly filesize
// ("invalid_part_size"). `stored` is ascending by part number.
core::Result<void> check_against_stored(const std::vector<storage::PartRef>& parts,
                                        const std::vector<storage::PartInfo>& stored,
                                        const PartPlan& plan, std::uint64_t filesize);

// Identifies an accepted part list, so a retried complete can be told from a new one.
std::string part_list_digest(const std::vector<storage::PartRef>& parts);

}  // namespace audiodrop::upload
