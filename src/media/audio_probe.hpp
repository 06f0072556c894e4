#pragma once

// Probing an uploaded recording: what container and codec it is, how long it plays, and
// whether it is what the client declared, told in one sentence a developer can act on.
//
// The bytes are read through a ReadAt (random access, so an m4a whose moov index sits at
// the end is read by seeking, not by reading everything), under a byte budget and a wall
// clock deadline. libavformat recognises the container and reads the first packets, and a
// decoder must turn one of them into audio; a few things libavformat does not expose (WAV
// data chunk, MP3 Xing/Info and LAME tags, top-level MP4 boxes, FLAC STREAMINFO and last frame,
// the last Ogg pages and their end-of-stream flags, the Matroska DocType, the last cluster of
// a live WebM) are read directly to detect truncation, WebM and live durations.
//
// What each declared filetype accepts (accepted_containers() returns this table; a file
// passes when its AudioFacts::format is one of the row's formats AND its AudioFacts::codec
// one of the row's codecs; "pcm_*" stands for every PCM variant):
//
//   declared  containers (AudioFacts::format)  codecs (AudioFacts::codec)
//   mp3       mp3                              mp3
//   m4a       mp4                              aac alac
//   wav       wav                              pcm_* adpcm_*
//   opus      ogg webm                         opus
//   ogg       ogg                              vorbis opus flac speex
//   aac       aac (ADTS) mp4                   aac
//   flac      flac ogg                         flac
//   amr       amr                              amr_nb amr_wb
//   webm      webm                             opus vorbis
//
// Besides that table a file fails when it carries video (cover art attached to an mp3 or
// m4a is not video), when it holds no audio at all, and when it is truncated.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "core/error.hpp"

namespace audiodrop::media {

// What a recording is, as far as its container and first packets tell.
struct AudioFacts {
    // Short container name: "mp3", "mp4", "wav", "ogg", "flac", "aac" (ADTS), "amr", "webm",
    // "matroska"; for other containers the first name libavformat gives ("aiff", "caf").
    std::string format;
    // avcodec_get_name of the first audio stream: "mp3", "aac", "pcm_s16le", "opus", ...
    std::string codec;
    // Of the audio the bytes hold: for a truncated file, of what is present (the problem
    // sentence then gives the declared length). MP3 durations leave out the encoder delay
    // and padding that a LAME tag declares, as a gapless player would.
    std::int64_t duration_ms = 0;
    int sample_rate = 0;
    int channels = 0;
    std::int64_t bit_rate = 0;  // bits per second (container's, else stream's; 0 when unknown)
};

// Random access to the bytes being probed: reads up to out.size() bytes at offset, returns
// how many (0 at end). Called from the probing thread only, one call at a time; it may throw
// (the probe then reports a read failure).
using ReadAt =
    std::function<core::Result<std::size_t>(std::uint64_t offset, std::span<std::uint8_t> out)>;

struct ProbeLimits {
    // Total budget across all reads; past it reads fail and the probe ends with a problem.
    std::uint64_t max_bytes_read = 16 * 1024 * 1024;
    std::int64_t probesize = 2 * 1024 * 1024;  // AVFormatContext probesize
    std::int64_t analyzeduration_us = 5'000'000;
    // Wall clock, checked before every read and by libavformat's interrupt callback; a
    // ReadAt that blocks holds the probe for as long as that one call blocks. At most 24 h.
    std::chrono::milliseconds deadline{5000};
    std::size_t io_buffer_bytes = 64 * 1024;
};

struct ProbeOutcome {
    // Set when the bytes are decodable audio (a decoder accepted the first packets).
    std::optional<AudioFacts> audio;
    // Empty when audio is set and matches the declared filetype; else one sentence, e.g.
    // "declared mp3, found a PNG image", "declared m4a, found mp3 audio", "not decodable
    // audio: <why>", "the file is truncated: <what>". With audio set, a non-empty problem is
    // a mismatch or a truncation; a truncation can also come without audio (an mp4 cut before
    // its moov index says nothing about its audio, a file cut before its first whole packet
    // holds none).
    std::string problem;
    // What the probe read through ReadAt (metrics; the budget counts the same bytes). Bytes
    // read twice count twice, so for a small file this can exceed its size.
    std::uint64_t bytes_read = 0;
    // Set when ReadAt itself failed: the bytes could not be judged, which is the store's
    // fault, not the client's (audio is then unset and problem says so).
    std::optional<core::Error> read_error;
};

// Probes `size` bytes readable through `read`, against the filetype the client declared
// (lowercase extension: mp3 m4a wav opus ogg aac flac amr webm; any other is reported as a
// problem with the audio facts still set). Never throws, never crashes or hangs on hostile
// bytes (nested opens such as HLS playlists are refused); thread-safe, many probes at once
// on different threads. Blocking: callers run it on a worker pool.
[[nodiscard]] ProbeOutcome probe_audio(std::uint64_t size, const ReadAt& read,
                                       std::string_view declared_filetype,
                                       const ProbeLimits& limits = {});

// One row of the table above: space-separated AudioFacts::format and AudioFacts::codec
// values a declared filetype accepts ("pcm_*" matches every codec name starting "pcm_").
struct AcceptedContainer {
    std::string_view filetype;
    std::string_view formats;
    std::string_view codecs;
};
// The table, one row per declared filetype, in the order above; static storage.
std::span<const AcceptedContainer> accepted_containers();

}  // namespace audiodrop::media
