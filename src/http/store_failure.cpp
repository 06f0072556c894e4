#include "http/store_failure.hpp"

namespace audiodrop::http {

std::optional<StoreFailure> store_failure(const core::Error& error) {
    using core::ErrorKind;
    using Kind = StoreFailure::Kind;
    Kind kind{};
    switch (error.kind) {
        case ErrorKind::unavailable:
            if (error.reason == core::Reason::server_busy ||
                error.reason == core::Reason::resolver_unavailable) {
                return std::nullopt;
            }
            kind = Kind::unavailable;
            break;
        case ErrorKind::storage_full:
            kind = Kind::storage_full;
            break;
        case ErrorKind::internal:
            kind = Kind::internal;
            break;
        default:
            return std::nullopt;
    }
    if (error.code.starts_with("metadata_"))
        return StoreFailure{StoreFailure::Store::metadata, kind};
    if (kind == Kind::internal && error.code != "InternalError") return std::nullopt;
    return StoreFailure{StoreFailure::Store::objects, kind};
}

std::string_view store_label(StoreFailure::Store store) {
    return store == StoreFailure::Store::metadata ? "metadata" : "objects";
}

std::string_view store_failure_label(StoreFailure::Kind kind) {
    switch (kind) {
        case StoreFailure::Kind::unavailable:
            return "unavailable";
        case StoreFailure::Kind::storage_full:
            return "storage_full";
        case StoreFailure::Kind::internal:
            return "internal";
    }
    return "internal";
}

}  // namespace audiodrop::http
