#include "metadata/upload_quota.hpp"

#include <string>

namespace audiodrop::metadata {

core::Error quota_refusal(const UploadRecord& u, const UploadQuota& quota,
                          const OpenUploads& open) {
    if (open.user_uploads >= quota.open_per_user) {
        return core::make_error(core::ErrorKind::rate_limited, "open_upload_quota",
                                "user " + u.user_id + " has " +
                                    std::to_string(quota.open_per_user) + " open uploads already",
                                core::Reason::open_upload_quota);
    }
    if (open.partner_uploads >= quota.open_per_partner) {
        return core::make_error(core::ErrorKind::rate_limited, "partner_upload_quota",
                                "partner " + u.client_id + " has " +
                                    std::to_string(quota.open_per_partner) +
                                    " open uploads already",
                                core::Reason::partner_upload_quota);
    }
    return core::make_error(
        core::ErrorKind::rate_limited, "partner_bytes_quota",
        "partner " + u.client_id + " has " + std::to_string(open.partner_bytes) +
            " bytes in open uploads; another " + std::to_string(u.filesize) +
            " would pass its limit of " + std::to_string(quota.bytes_per_partner),
        core::Reason::partner_bytes_quota);
}

}  // namespace audiodrop::metadata
