#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string_view>

#include "core/error.hpp"

namespace audiodrop::http {

// Which store failed, and how, when an error is a store's own failure rather than
// the client's, a full worker queue's, or a bug of the service.
struct StoreFailure {
    enum class Store : std::uint8_t { metadata, objects };
    enum class Kind : std::uint8_t { unavailable, storage_full, internal };
    Store store;
    Kind kind;
};

inline constexpr std::size_t kStores = 2;
inline constexpr std::size_t kStoreFailureKinds = 3;

// Decided on the codes the stores document, as the wire tables are: the metadata
// stores name every failure of theirs "metadata_..."; the object stores answer
// unavailable or storage_full, and internal only as "InternalError" (the local store
// finding its own files inconsistent). A refusal of a full worker queue or a failed DNS
// lookup is unavailable too, but no store's.
std::optional<StoreFailure> store_failure(const core::Error& error);

std::string_view store_label(StoreFailure::Store store);
std::string_view store_failure_label(StoreFailure::Kind kind);

}  // namespace audiodrop::http
