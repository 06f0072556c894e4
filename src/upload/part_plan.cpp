#include "upload/part_plan.hpp"

#include <cassert>

namespace audiodrop::upload {
namespace {
std::uint64_t ceil_div(std::uint64_t a, std::uint64_t b) { return a / b + (a % b != 0); }
}  // namespace

std::uint64_t PartPlan::part_size(std::uint32_t n, std::uint64_t filesize) const {
    if (n < part_count) return chunk_size;
    return filesize - chunk_size * (part_count - 1);
}

PartPlan plan_parts(std::uint64_t filesize) {
    assert(filesize > 0);
    std::uint64_t chunk = kDefaultChunkSize;
    if (ceil_div(filesize, chunk) > kMaxParts) {
        chunk = ceil_div(ceil_div(filesize, kMaxParts), kMiB) * kMiB;
    }
    return PartPlan{chunk, static_cast<std::uint32_t>(ceil_div(filesize, chunk))};
}

}  // namespace audiodrop::upload
