#pragma once

#include <cstdint>

#include "core/error.hpp"

namespace audiodrop::upload {

inline constexpr std::uint64_t kMiB = 1024 * 1024;
// Plaud: "You must send <5MB of data to each PresignedUrl" — parts are 5 MiB.
inline constexpr std::uint64_t kDefaultChunkSize = 5 * kMiB;
// S3: a multipart upload has at most 10,000 parts.
inline constexpr std::uint32_t kMaxParts = 10000;

// How a file of a given size is cut into parts.
struct PartPlan {
    std::uint64_t chunk_size = 0;
    std::uint32_t part_count = 0;

    // Size of part `n` (1-based) of a file of `filesize` bytes: chunk_size for all but
    // the last, the remainder for the last.
    std::uint64_t part_size(std::uint32_t n, std::uint64_t filesize) const;
};

// ChunkSize is 5 MiB, grown in whole MiB only when the file would otherwise need more
// than kMaxParts parts; part_count = ceil(filesize / chunk_size). filesize must be > 0.
PartPlan plan_parts(std::uint64_t filesize);

}  // namespace audiodrop::upload
