#include "upload/content_check.hpp"

namespace audiodrop::upload {

std::optional<ContentCheck> content_check_from_string(std::string_view word) {
    if (word == "off") return ContentCheck::off;
    if (word == "record") return ContentCheck::record;
    if (word == "enforce") return ContentCheck::enforce;
    return std::nullopt;
}

core::Result<AudioFindings> inspect_audio(storage::ObjectReader& reader, std::string_view filetype,
                                          const media::ProbeLimits& limits) {
    const auto outcome = media::probe_audio(
        reader.size(),
        [&reader](std::uint64_t offset, std::span<std::uint8_t> out) {
            return reader.read(offset, out);
        },
        filetype, limits);
    if (outcome.read_error) return *outcome.read_error;
    AudioFindings found;
    found.problem = outcome.problem;
    found.bytes_read = outcome.bytes_read;
    if (outcome.audio) {
        const auto& a = *outcome.audio;
        found.audio =
            nlohmann::ordered_json{
                {"Format", a.format},
                {"Codec", a.codec},
                {"DurationSeconds", static_cast<double>(a.duration_ms) / 1000.0},
                {"SampleRate", a.sample_rate},
                {"Channels", a.channels},
                {"BitRate", a.bit_rate},
            }
                .dump();
    }
    return found;
}

void add_audio_fields(const metadata::UploadRecord& u, nlohmann::ordered_json& out) {
    if (u.audio.empty() && u.audio_problem.empty()) return;
    out["Audio"] = u.audio.empty() ? nlohmann::ordered_json(nullptr)
                                   : nlohmann::ordered_json::parse(u.audio, nullptr, false);
    if (!u.audio_problem.empty()) out["AudioError"] = u.audio_problem;
}

}  // namespace audiodrop::upload
