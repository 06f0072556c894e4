#include "metadata/records.hpp"

namespace audiodrop::metadata {

// These words are stored in the database, so they must never change.
std::string_view to_string(UploadState s) {
    switch (s) {
        case UploadState::open:
            return "open";
        case UploadState::completed:
            return "completed";
        case UploadState::aborted:
            return "aborted";
        case UploadState::expired:
            return "expired";
    }
    return "unknown";
}

std::optional<UploadState> upload_state_from_string(std::string_view s) {
    for (auto state :
         {UploadState::open, UploadState::completed, UploadState::aborted, UploadState::expired}) {
        if (to_string(state) == s) return state;
    }
    return std::nullopt;
}

}  // namespace audiodrop::metadata
