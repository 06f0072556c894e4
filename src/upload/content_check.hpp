#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

#include "media/audio_probe.hpp"
#include "metadata/records.hpp"
#include "storage/object_store.hpp"

namespace audiodrop::upload {

// What a complete does with the bytes it assembles: nothing, probe them and record what
// they are, or also refuse them when they are not the audio the filetype declares.
enum class ContentCheck { off, record, enforce };

std::optional<ContentCheck> content_check_from_string(std::string_view word);

// What a probe found, as a completed file records it.
struct AudioFindings {
    std::string audio;    // the facts as the API's JSON object; empty when not audio
    std::string problem;  // a sentence when not the declared audio; else empty
    std::uint64_t bytes_read = 0;
};

// Probes the bytes `reader` gives against the declared filetype. Blocking: a worker's.
// Fails only when the store could not give the bytes: what the bytes are is a finding.
core::Result<AudioFindings> inspect_audio(storage::ObjectReader& reader, std::string_view filetype,
                                          const media::ProbeLimits& limits);

// Sets `Audio` (null when not audio) and `AudioError` (when there is a problem) of a
// probed file in `out`, as GET file and file.uploaded show them; nothing when unprobed.
void add_audio_fields(const metadata::UploadRecord& u, nlohmann::ordered_json& out);

}  // namespace audiodrop::upload
