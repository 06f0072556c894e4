#include "http/request_route.hpp"

#include <array>

namespace audiodrop::http {

std::string_view route_label(RequestRoute route) {
    static constexpr std::array<std::string_view, kRequestRoutes> kLabels = {
        "unmatched",
        "/healthz",
        "/readyz",
        "/metrics",
        "/demo/",
        "/oauth/partner/access-token",
        "/oauth/partner/access-token/refresh",
        "/open/partner/users/access-token",
        "/open/partner/files/upload/generate-presigned-urls",
        "/open/partner/files/upload/complete-upload",
        "/open/partner/files/upload/parts",
        "/open/partner/files/upload/abort-upload",
        "/open/partner/files/{file_id}",
        "/open/partner/webhooks",
        "/open/partner/webhooks/{webhook_id}",
        "/open/partner/webhooks/{webhook_id}/rotate-secret",
        "/open/partner/webhooks/{webhook_id}/ping",
        "/open/partner/webhooks/{webhook_id}/deliveries",
        "storage_part_put",
        "storage_object_get",
    };
    const auto i = static_cast<std::size_t>(route);
    return i < kLabels.size() ? kLabels[i] : kLabels[0];
}

}  // namespace audiodrop::http
