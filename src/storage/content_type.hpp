#pragma once

#include <string_view>

namespace audiodrop::storage {

// The Content-Type an object is served with, from its key's extension (audio/mpeg for
// "file_x.mp3"); application/octet-stream for anything else. Both stores use it, so a
// DownloadUrl answers with the same type whichever store holds the bytes.
std::string_view content_type_for(std::string_view key);

}  // namespace audiodrop::storage
