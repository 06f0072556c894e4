#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace audiodrop::http {

// What /metrics counts a request under: the route that served it, never its path, so
// that the series stay a fixed set whatever paths clients send. The label of an API
// route is its path template after --base-path (the operations and the demo page,
// which live outside it, keep their own path); the storage endpoint's two operations
// are named; a request no route took is "unmatched".
enum class RequestRoute : std::uint8_t {
    unmatched,
    healthz,
    readyz,
    metrics,
    demo_page,
    partner_token,
    refresh_token,
    user_token,
    generate_presigned_urls,
    complete_upload,
    list_parts,
    abort_upload,
    file,
    webhooks,
    webhook,
    webhook_rotate_secret,
    webhook_ping,
    webhook_deliveries,
    storage_part_put,
    storage_object_get,
};

inline constexpr std::size_t kRequestRoutes =
    static_cast<std::size_t>(RequestRoute::storage_object_get) + 1;

// The route's label value, e.g. "/open/partner/files/{file_id}"; "unmatched" for a
// value outside the enum.
std::string_view route_label(RequestRoute route);

}  // namespace audiodrop::http
