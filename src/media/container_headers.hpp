#pragma once

// The few container headers the probe reads itself because libavformat does not expose
// them: how much audio a WAV data chunk, an MP3 Xing/Info/VBRI header, an MP4 box or a FLAC
// STREAMINFO declares, and how far the last FLAC frame or Ogg page reaches (to tell a
// truncated file from a short one), the LAME tag's encoder delay and padding (for exact MP3
// durations), and the Matroska DocType (webm or matroska). Each reads a bounded number of
// bytes through the ByteSource and gives nullopt for anything that is not the header it
// looks for; none trusts a size it reads.

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "media/byte_source.hpp"

namespace audiodrop::media {

// RIFF/RF64 WAVE: where the data chunk's bytes start and how many it declares. nullopt
// when there is no data chunk among the first chunks, or it declares no size (0 or
// 0xFFFFFFFF, as a writer that could not seek back leaves it).
struct WavDataChunk {
    std::uint64_t offset = 0;
    std::uint64_t declared_bytes = 0;
};
std::optional<WavDataChunk> read_wav_data_chunk(ByteSource& source);

// The first MPEG audio Layer III frame (after any ID3v2 tags) and the Xing/Info or VBRI
// header in it. nullopt when the first frame carries no such header.
struct Mp3InfoTag {
    std::uint64_t first_frame_offset = 0;
    int sample_rate = 0;
    int samples_per_frame = 0;
    std::uint32_t frame_bytes = 0;        // the first frame's length, without padding
    bool constant_bit_rate = false;       // "Info" rather than "Xing"
    std::optional<std::uint32_t> frames;  // audio frames (LAME and FFmpeg leave this one out)
    std::optional<std::uint32_t> bytes;   // bytes of frames from this one on
    std::optional<int> encoder_delay;     // LAME tag: samples to drop at the start
    std::optional<int> encoder_padding;   // ...and at the end
};
std::optional<Mp3InfoTag> read_mp3_info_tag(ByteSource& source);

// ISO BMFF: the first top-level box that declares more bytes than the file holds.
struct Mp4Box {
    std::string type;  // "mdat", "moov", ...
    std::uint64_t offset = 0;
    std::uint64_t declared_bytes = 0;
};
std::optional<Mp4Box> find_mp4_box_past_end(ByteSource& source);

// The EBML header's DocType ("webm", "matroska"); empty when there is none.
std::string read_ebml_doctype(ByteSource& source);

// Matroska/WebM written live (browsers' MediaRecorder) declares no duration and no cues. This
// reads the file's last `tail_bytes` and returns the latest block timestamp there, absolute
// (cluster timestamp plus the block's own, in the segment's timestamp units), of track `track`
// (0: any); nullopt when no whole cluster start with a block lies in the tail.
std::optional<std::int64_t> read_matroska_last_timestamp(ByteSource& source, std::uint64_t track,
                                                         std::size_t tail_bytes);

// FLAC (RFC 9639 section 8.2): the STREAMINFO block, and where the frames start.
struct FlacStreamInfo {
    // The first byte after the metadata blocks; past the file's end when they are cut short.
    std::uint64_t frames_offset = 0;
    std::uint32_t min_block_size = 0;  // samples per channel, the last frame not counted
    std::uint32_t max_block_size = 0;
    std::uint32_t max_frame_bytes = 0;  // 0: unknown
    std::uint32_t sample_rate = 0;
    int channels = 0;
    int bits_per_sample = 0;
    std::uint64_t total_samples = 0;  // per channel; 0: unknown (a writer that could not seek)
};
// nullopt when the file (after any ID3v2 tags) does not start "fLaC" and a STREAMINFO block,
// or when the metadata blocks do not end within the first few hundred.
std::optional<FlacStreamInfo> read_flac_stream_info(ByteSource& source);

// How far the frames in the file's last `tail_bytes` reach, in samples per channel: the last
// frame header there (RFC 9639 section 9.1; its CRC-8 right, its sample rate, channels and
// sample size those of `info`) gives its first sample, and its block size counts too when its
// CRC-16 shows the frame whole. 0 when the metadata blocks reach past the end; nullopt when
// no frame header lies in the tail.
std::optional<std::uint64_t> read_flac_samples_present(ByteSource& source,
                                                       const FlacStreamInfo& info,
                                                       std::size_t tail_bytes);

// Ogg (RFC 3533 section 6): a page as its header describes it.
struct OggPage {
    std::uint64_t offset = 0;
    std::uint32_t serial = 0;
    std::uint32_t sequence = 0;
    std::int64_t granule = 0;
    bool end_of_stream = false;
};
// The last whole page (its CRC right) of each logical stream that has one in the file's last
// `tail_bytes`, in file order of those pages. A stream whose last page lacks the
// end-of-stream flag was cut short; a stream with no page in the tail says nothing.
std::vector<OggPage> read_ogg_last_pages(ByteSource& source, std::size_t tail_bytes);

// A well-known non-media file recognised from its first bytes, as a phrase ("a PDF
// document", "an HTML page", "plain text"); empty when the bytes say nothing.
std::string_view sniff_non_media(std::span<const std::uint8_t> head);

}  // namespace audiodrop::media
