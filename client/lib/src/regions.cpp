// The region host table: where each region's API lives. A region listed with an empty
// host is announced but not served yet.

#include <array>
#include <string>
#include <utility>

#include "audiodrop/client.hpp"

namespace audiodrop::client {
namespace {

struct RegionHost {
    std::string_view name;
    std::string_view endpoint;  // empty: coming soon
};

constexpr std::array kRegions{
    RegionHost{"us", "https://platform-us.plaud.ai/developer/api"},
    RegionHost{"jp", "https://platform-jp.plaud.ai/developer/api"},
    RegionHost{"eu", ""},
    RegionHost{"sg", ""},
};

}  // namespace

Result<std::string> endpoint_for_region(std::string_view region) {
    for (const auto& r : kRegions) {
        if (r.name != region) continue;
        if (r.endpoint.empty()) {
            return Error{ErrorKind::usage, 0, "region_unavailable",
                         "region '" + std::string(region) +
                             "' is coming soon and not served yet; use us or jp"};
        }
        return std::string(r.endpoint);
    }
    return Error{ErrorKind::usage, 0, "unknown_region",
                 "unknown region '" + std::string(region) + "'; use one of us, jp, eu, sg"};
}

}  // namespace audiodrop::client
