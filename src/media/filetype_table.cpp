#include "media/filetype_table.hpp"

#include <algorithm>
#include <array>

namespace audiodrop::media {
namespace {

// The table audio_probe.hpp documents; keep the two in step.
constexpr std::array<AcceptedContainer, 9> kAccepted = {{
    {"mp3", "mp3", "mp3"},
    {"m4a", "mp4", "aac alac"},
    {"wav", "wav", "pcm_* adpcm_*"},
    {"opus", "ogg webm", "opus"},
    {"ogg", "ogg", "vorbis opus flac speex"},
    {"aac", "aac mp4", "aac"},
    {"flac", "flac ogg", "flac"},
    {"amr", "amr", "amr_nb amr_wb"},
    {"webm", "webm", "opus vorbis"},
}};

// Calls f(word) for each space-separated word; stops when f returns true.
template <class F>
bool any_word(std::string_view words, F f) {
    while (!words.empty()) {
        const auto end = words.find(' ');
        if (f(words.substr(0, end))) return true;
        words = end == std::string_view::npos ? std::string_view() : words.substr(end + 1);
    }
    return false;
}

bool format_listed(std::string_view formats, std::string_view format) {
    return any_word(formats, [&](std::string_view w) { return w == format; });
}

bool codec_listed(std::string_view codecs, std::string_view codec) {
    return any_word(codecs, [&](std::string_view w) {
        return w.ends_with('*') ? codec.starts_with(w.substr(0, w.size() - 1)) : w == codec;
    });
}

// "aac or alac", "vorbis, opus, flac or speex".
std::string or_list(std::string_view words) {
    std::string out;
    std::size_t count = 0;
    any_word(words, [&](std::string_view) {
        ++count;
        return false;
    });
    std::size_t i = 0;
    any_word(words, [&](std::string_view w) {
        if (i > 0) out += i + 1 == count ? " or " : ", ";
        out += w;
        ++i;
        return false;
    });
    return out;
}

}  // namespace

std::span<const AcceptedContainer> accepted_containers() { return kAccepted; }

std::string declared_phrase(std::string_view declared_filetype) {
    if (declared_filetype.empty()) return "declared no filetype";
    std::string out = "declared ";
    for (const char c : declared_filetype.substr(0, 16)) {
        out.push_back(c >= 0x21 && c <= 0x7E ? c : '?');
    }
    if (declared_filetype.size() > 16) out += "...";
    return out;
}

std::string describe_mismatch(std::string_view declared_filetype, const AudioFacts& facts) {
    const auto row = std::find_if(kAccepted.begin(), kAccepted.end(),
                                  [&](const auto& r) { return r.filetype == declared_filetype; });
    const std::string declared = declared_phrase(declared_filetype);
    if (row == kAccepted.end()) {
        std::string accepted;
        for (const auto& r : kAccepted)
            accepted += (accepted.empty() ? "" : " ") + std::string(r.filetype);
        return declared + ", which is not a filetype audiodrop accepts (" + accepted + ")";
    }
    std::string found = facts.format + " audio";
    if (facts.codec != facts.format) found += " (" + facts.codec + ")";
    if (!format_listed(row->formats, facts.format)) return declared + ", found " + found;
    if (!codec_listed(row->codecs, facts.codec)) {
        return declared + ", found " + found + "; " + std::string(row->filetype) + " accepts " +
               or_list(row->codecs) + " audio";
    }
    return {};
}

}  // namespace audiodrop::media
