// libFuzzer target: an uploaded file as media::probe_audio reads it (libavformat and
// libavcodec over a custom AVIO context, plus the headers media reads itself).
//
// Input: the file's bytes, unprefixed, so any media file is a seed. The declared filetype
// and how much each read returns (all asked for, or short reads) follow from the input's
// size, so mutations that change the size try them all.
//
// Properties beyond "no crash, no leak, no hang": reads stay inside the file; the probe reads
// no more than its budget; audio, when found, has a codec, a sample rate and channels; no
// audio means a problem; a problem is one line; a reader that never fails is never blamed.

#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string_view>

#include "fuzz_support.hpp"
#include "media/audio_probe.hpp"

namespace {

using namespace audiodrop;
using fuzz::check;

constexpr std::array<std::string_view, 10> kDeclared = {"mp3", "m4a",  "wav", "opus", "ogg",
                                                        "aac", "flac", "amr", "webm", "xyz"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string_view declared = kDeclared[size % kDeclared.size()];
    // Every third size reads in short, odd-sized pieces, as a slow store might return them.
    const std::size_t piece = (size / kDeclared.size()) % 3 == 0 ? 1 + size % 997 : SIZE_MAX;

    const media::ReadAt read = [&](std::uint64_t offset,
                                   std::span<std::uint8_t> out) -> core::Result<std::size_t> {
        check(offset < size && out.size() <= size - offset, "reads stay inside the file");
        const std::size_t n = std::min(out.size(), piece);
        std::memcpy(out.data(), data + offset, n);
        return n;
    };
    media::ProbeLimits limits;
    limits.max_bytes_read = 4 * 1024 * 1024;
    limits.probesize = 1024 * 1024;
    const auto outcome = media::probe_audio(size, read, declared, limits);

    check(outcome.bytes_read <= limits.max_bytes_read, "the probe keeps to its read budget");
    check(!outcome.read_error, "a reader that never fails is never blamed");
    check(outcome.problem.find('\n') == std::string::npos, "a problem is one line");
    if (outcome.audio) {
        const auto& a = *outcome.audio;
        check(!a.format.empty() && !a.codec.empty(), "audio has a container and a codec");
        check(a.sample_rate > 0 && a.channels > 0, "audio has a sample rate and channels");
        check(a.duration_ms >= 0 && a.bit_rate >= 0, "durations and bit rates are not negative");
    } else {
        check(!outcome.problem.empty(), "no audio comes with a problem");
    }
    return 0;
}
