#include "storage/content_type.hpp"

#include <unordered_map>

namespace audiodrop::storage {

std::string_view content_type_for(std::string_view key) {
    static const std::unordered_map<std::string_view, std::string_view> kTypes = {
        {"mp3", "audio/mpeg"},  {"m4a", "audio/mp4"}, {"wav", "audio/wav"},
        {"opus", "audio/ogg"},  {"ogg", "audio/ogg"}, {"aac", "audio/aac"},
        {"flac", "audio/flac"}, {"amr", "audio/amr"}, {"webm", "audio/webm"},
    };
    const auto dot = key.rfind('.');
    if (dot != std::string_view::npos) {
        if (auto it = kTypes.find(key.substr(dot + 1)); it != kTypes.end()) return it->second;
    }
    return "application/octet-stream";
}

}  // namespace audiodrop::storage
