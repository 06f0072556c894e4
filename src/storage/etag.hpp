#pragma once

// ETags as S3 writes them and as this layer speaks them (lowercase hex, no quotes).

#include <string>
#include <string_view>
#include <vector>

#include "storage/object_store.hpp"

namespace audiodrop::storage {

// An ETag as S3 prints it (quoted, any hex case) in this layer's form.
std::string normalise_etag(std::string_view etag);

// S3's ETag of an object assembled from `parts`: the MD5 of their binary MD5s, then
// "-" and the part count. Empty when a part's ETag is not hex.
std::string multipart_etag(const std::vector<PartRef>& parts);

}  // namespace audiodrop::storage
