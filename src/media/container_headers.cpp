#include "media/container_headers.hpp"

#include <algorithm>
#include <array>
#include <bit>
#include <cctype>
#include <climits>
#include <cstring>

extern "C" {
#include <libavutil/crc.h>
}

namespace audiodrop::media {
namespace {

using Bytes = std::span<const std::uint8_t>;

std::uint32_t be32(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 |
           std::uint32_t{p[3]};
}
std::uint64_t be64(const std::uint8_t* p) { return std::uint64_t{be32(p)} << 32 | be32(p + 4); }
std::uint32_t be24(const std::uint8_t* p) {
    return std::uint32_t{p[0]} << 16 | std::uint32_t{p[1]} << 8 | std::uint32_t{p[2]};
}
std::uint32_t be16(const std::uint8_t* p) { return std::uint32_t{p[0]} << 8 | std::uint32_t{p[1]}; }
std::uint32_t le32(const std::uint8_t* p) {
    return std::uint32_t{p[3]} << 24 | std::uint32_t{p[2]} << 16 | std::uint32_t{p[1]} << 8 |
           std::uint32_t{p[0]};
}
std::uint64_t le64(const std::uint8_t* p) { return std::uint64_t{le32(p + 4)} << 32 | le32(p); }

bool starts_with(Bytes bytes, std::string_view prefix) {
    return bytes.size() >= prefix.size() &&
           std::memcmp(bytes.data(), prefix.data(), prefix.size()) == 0;
}
bool tag_at(Bytes bytes, std::size_t at, std::string_view tag) {
    return at <= bytes.size() && starts_with(bytes.subspan(at), tag);
}

// Where the bytes after any ID3v2 tags start: tags possibly several in a row (ID3v2.4 4.1:
// 10-byte header, syncsafe size, a 10-byte footer when flag 0x10 is set). MP3 and FLAC files
// may both start with them. nullopt when reading stopped.
std::optional<std::uint64_t> skip_id3v2(ByteSource& source) {
    std::uint64_t at = 0;
    for (int i = 0; i < 8; ++i) {
        const auto h = source.read_up_to(at, 10);
        if (!h) return std::nullopt;
        const Bytes b(*h);
        if (b.size() < 10 || !tag_at(b, 0, "ID3") || b[3] == 0xFF || b[4] == 0xFF ||
            ((b[6] | b[7] | b[8] | b[9]) & 0x80) != 0) {
            break;
        }
        const std::uint64_t size =
            std::uint64_t{b[6]} << 21 | std::uint64_t{b[7]} << 14 | std::uint64_t{b[8]} << 7 | b[9];
        at += 10 + size + ((b[5] & 0x10) ? 10 : 0);
    }
    return at;
}

// The file's last `tail_bytes`, from `not_before` on at the earliest; nullopt when reading
// stopped.
std::optional<std::vector<std::uint8_t>> read_tail(ByteSource& source, std::size_t tail_bytes,
                                                   std::uint64_t not_before = 0) {
    const std::uint64_t from =
        std::max(not_before, source.size() > tail_bytes ? source.size() - tail_bytes : 0);
    if (from >= source.size()) return std::vector<std::uint8_t>();
    return source.read_up_to(from, static_cast<std::size_t>(source.size() - from));
}

// --- MPEG audio frame headers (ISO/IEC 11172-3 2.4.2.3, 13818-3 for MPEG-2/2.5) ---

struct MpegFrame {
    int sample_rate = 0;
    int samples_per_frame = 0;
    std::uint32_t frame_bytes = 0;
    std::size_t side_info_bytes = 0;
};

// Layer III only: the Xing, Info and VBRI headers live in Layer III frames.
std::optional<MpegFrame> parse_layer3_header(std::uint32_t h) {
    constexpr std::array<int, 16> kMpeg1Kbps = {0,   32,  40,  48,  56,  64,  80,  96,
                                                112, 128, 160, 192, 224, 256, 320, 0};
    constexpr std::array<int, 16> kMpeg2Kbps = {0,  8,  16, 24,  32,  40,  48,  56,
                                                64, 80, 96, 112, 128, 144, 160, 0};
    constexpr std::array<int, 3> kMpeg1Rates = {44100, 48000, 32000};
    if ((h >> 21) != 0x7FF) return std::nullopt;
    const auto version = (h >> 19) & 3;  // 0: MPEG-2.5, 1: reserved, 2: MPEG-2, 3: MPEG-1
    const auto layer = (h >> 17) & 3;    // 1: Layer III
    const auto bitrate_index = (h >> 12) & 0xF;
    const auto rate_index = (h >> 10) & 3;
    const bool mono = ((h >> 6) & 3) == 3;
    if (version == 1 || layer != 1 || bitrate_index == 0 || bitrate_index == 15 ||
        rate_index == 3) {
        return std::nullopt;
    }
    const bool mpeg1 = version == 3;
    MpegFrame f;
    f.sample_rate = kMpeg1Rates[rate_index] >> (mpeg1 ? 0 : version == 2 ? 1 : 2);
    f.samples_per_frame = mpeg1 ? 1152 : 576;
    const int kbps = (mpeg1 ? kMpeg1Kbps : kMpeg2Kbps)[bitrate_index];
    f.frame_bytes = static_cast<std::uint32_t>((mpeg1 ? 144000 : 72000) * kbps / f.sample_rate);
    f.side_info_bytes = mpeg1 ? (mono ? 17 : 32) : (mono ? 9 : 17);
    return f;
}

// Xing/Info (written by LAME, FFmpeg and most encoders), with the LAME tag after it.
bool parse_xing(Bytes x, Mp3InfoTag& tag) {
    if (!tag_at(x, 0, "Xing") && !tag_at(x, 0, "Info")) return false;
    if (x.size() < 8) return false;
    tag.constant_bit_rate = tag_at(x, 0, "Info");
    const std::uint32_t flags = be32(&x[4]);
    std::size_t at = 8;
    if (flags & 1) {
        if (x.size() < at + 4) return true;
        tag.frames = be32(&x[at]);
        at += 4;
    }
    if (flags & 2) {
        if (x.size() < at + 4) return true;
        tag.bytes = be32(&x[at]);
        at += 4;
    }
    if (flags & 4) at += 100;  // seek table
    if (flags & 8) at += 4;    // quality
    // LAME tag: 9 bytes of encoder version, then at +21 the delay and padding, 12 bits each.
    if (x.size() >= at + 24 &&
        (tag_at(x, at, "LAME") || tag_at(x, at, "Lavf") || tag_at(x, at, "Lavc"))) {
        const std::uint32_t v =
            std::uint32_t{x[at + 21]} << 16 | std::uint32_t{x[at + 22]} << 8 | x[at + 23];
        tag.encoder_delay = static_cast<int>(v >> 12);
        tag.encoder_padding = static_cast<int>(v & 0xFFF);
    }
    return true;
}

// VBRI (Fraunhofer's encoder), always 32 bytes after the frame header.
bool parse_vbri(Bytes v, Mp3InfoTag& tag) {
    if (!tag_at(v, 0, "VBRI") || v.size() < 18) return false;
    tag.bytes = be32(&v[10]);
    tag.frames = be32(&v[14]);
    return true;
}

// --- EBML (RFC 8794) ---

// A variable-size integer at `at`: an element ID (marker bit kept, up to 4 bytes) or a data
// size (marker dropped, up to 8 bytes; all ones means "unknown", reported in *unknown).
std::optional<std::uint64_t> read_vint(Bytes b, std::size_t& at, bool is_id,
                                       bool* unknown = nullptr) {
    if (at >= b.size() || b[at] == 0) return std::nullopt;
    const int length = std::countl_zero(b[at]) + 1;
    if (length > (is_id ? 4 : 8) || at + static_cast<std::size_t>(length) > b.size()) {
        return std::nullopt;
    }
    std::uint64_t value = is_id ? b[at] : (b[at] & (0xFFu >> length));
    for (int i = 1; i < length; ++i) value = value << 8 | b[at + static_cast<std::size_t>(i)];
    at += static_cast<std::size_t>(length);
    if (unknown != nullptr) *unknown = !is_id && value == (std::uint64_t{1} << (7 * length)) - 1;
    return value;
}

// Matroska element IDs (RFC 9559), marker bits kept.
constexpr std::uint64_t kCluster = 0x1F43B675;
constexpr std::uint64_t kClusterTimestamp = 0xE7;
constexpr std::uint64_t kSimpleBlock = 0xA3;
constexpr std::uint64_t kBlockGroup = 0xA0;
constexpr std::uint64_t kBlock = 0xA1;
constexpr std::uint64_t kCues = 0x1C53BB6B;
constexpr std::uint64_t kTags = 0x1254C367;

// A block's timestamp relative to its cluster, when it belongs to `track` (0: any).
std::optional<std::int64_t> block_timestamp(Bytes block, std::uint64_t track) {
    std::size_t at = 0;
    const auto number = read_vint(block, at, false);
    if (!number || at + 2 > block.size() || (track != 0 && *number != track)) return std::nullopt;
    return static_cast<std::int16_t>(block[at] << 8 | block[at + 1]);
}

// The latest block timestamp in the cluster whose ID starts at `at`, when the cluster starts
// with its Timestamp (RFC 9559 says it SHOULD); stops at the first element cut short.
std::optional<std::int64_t> last_timestamp_in_cluster(Bytes b, std::size_t at,
                                                      std::uint64_t track) {
    at += 4;
    bool unknown = false;
    const auto cluster_size = read_vint(b, at, false, &unknown);
    if (!cluster_size) return std::nullopt;
    // The cluster's body, as far as the tail holds it; every read below stays inside it.
    const Bytes cluster = b.subspan(at, unknown ? b.size() - at
                                                : static_cast<std::size_t>(std::min<std::uint64_t>(
                                                      *cluster_size, b.size() - at)));
    std::size_t in = 0;
    const auto timestamp_id = read_vint(cluster, in, true);
    const auto timestamp_size = read_vint(cluster, in, false);
    if (timestamp_id != kClusterTimestamp || !timestamp_size || *timestamp_size > 7 ||
        *timestamp_size > cluster.size() - in) {
        return std::nullopt;
    }
    std::int64_t cluster_timestamp = 0;
    for (std::uint64_t i = 0; i < *timestamp_size; ++i) {
        cluster_timestamp = cluster_timestamp << 8 | cluster[in++];
    }
    std::optional<std::int64_t> latest;
    const auto consider = [&](Bytes block) {
        if (const auto t = block_timestamp(block, track)) {
            latest = std::max(latest.value_or(INT64_MIN), cluster_timestamp + *t);
        }
    };
    while (in < cluster.size()) {
        const auto id = read_vint(cluster, in, true);
        const auto size = read_vint(cluster, in, false, &unknown);
        if (!id || !size || unknown || *size > cluster.size() - in || *id == kCluster ||
            *id == kCues || *id == kTags) {
            break;
        }
        const Bytes body = cluster.subspan(in, static_cast<std::size_t>(*size));
        in += body.size();
        if (*id == kSimpleBlock) consider(body);
        if (*id != kBlockGroup) continue;
        for (std::size_t child_at = 0; child_at < body.size();) {
            const auto child = read_vint(body, child_at, true);
            const auto child_size = read_vint(body, child_at, false);
            if (!child || !child_size || *child_size > body.size() - child_at) break;
            const auto length = static_cast<std::size_t>(*child_size);
            if (*child == kBlock) consider(body.subspan(child_at, length));
            child_at += length;
        }
    }
    return latest;
}

// --- FLAC (RFC 9639) ---

constexpr std::size_t kFlacStreamInfoBytes = 34;
// Metadata blocks read before giving up on finding the last (a file has a handful).
constexpr int kMaxFlacMetadataBlocks = 256;
// A frame header at its longest: sync and codes (4), coded number (7), block size (2),
// sample rate (2), CRC-8 (1).
constexpr std::size_t kFlacMaxFrameHeaderBytes = 16;

struct FlacFrameHeader {
    std::uint64_t first_sample = 0;
    std::uint32_t block_size = 0;
    std::size_t header_bytes = 0;  // CRC-8 included
};

// The frame header at the start of `b` (section 9.1), when its CRC-8 is right and it
// describes a frame of the stream `info` describes: the same sample rate, channel count and
// sample size, a block size no larger than the stream's largest.
std::optional<FlacFrameHeader> parse_flac_frame_header(Bytes b, const FlacStreamInfo& info) {
    if (b.size() < 6 || b[0] != 0xFF || (b[1] & 0xFE) != 0xF8) return std::nullopt;
    const bool variable_block_size = (b[1] & 1) != 0;
    const unsigned block_code = b[2] >> 4;
    const unsigned rate_code = b[2] & 0xF;
    const unsigned channel_code = b[3] >> 4;
    const unsigned sample_size_code = (b[3] >> 1) & 7;
    // Reserved values (sections 9.1.1 to 9.1.4) are not a frame header.
    if (block_code == 0 || rate_code == 15 || channel_code > 10 || sample_size_code == 3 ||
        (b[3] & 1) != 0) {
        return std::nullopt;
    }
    // The coded number (9.1.5), UTF-8's scheme stretched to 36 bits: the frame number for a
    // fixed block size (31 bits at most), else the first sample's number.
    std::size_t at = 4;
    const std::uint8_t lead = b[at++];
    std::uint64_t number = lead;
    if (lead >= 0x80) {
        const int continuation = std::countl_one(lead) - 1;
        if (continuation < 1 || continuation > (variable_block_size ? 6 : 5) ||
            b.size() < at + static_cast<std::size_t>(continuation) + 1) {
            return std::nullopt;
        }
        number = lead & (0x7Fu >> (continuation + 1));
        for (int i = 0; i < continuation; ++i) {
            const std::uint8_t c = b[at++];
            if ((c & 0xC0) != 0x80) return std::nullopt;
            number = number << 6 | (c & 0x3F);
        }
    }
    // Block size and sample rate, from their codes or the bytes that follow (9.1.6, 9.1.7).
    std::uint32_t block_size = 0;
    if (block_code == 1) {
        block_size = 192;
    } else if (block_code <= 5) {
        block_size = 576u << (block_code - 2);
    } else if (block_code == 6) {
        if (b.size() < at + 2) return std::nullopt;
        block_size = b[at++] + 1u;
    } else if (block_code == 7) {
        if (b.size() < at + 3) return std::nullopt;
        block_size = be16(&b[at]) + 1;
        at += 2;
    } else {
        block_size = 256u << (block_code - 8);
    }
    constexpr std::array<std::uint32_t, 12> kRates = {0,     88200, 176400, 192000, 8000,  16000,
                                                      22050, 24000, 32000,  44100,  48000, 96000};
    std::uint32_t sample_rate = info.sample_rate;  // code 0: the STREAMINFO's
    if (rate_code >= 1 && rate_code <= 11) {
        sample_rate = kRates[rate_code];
    } else if (rate_code == 12) {
        if (b.size() < at + 2) return std::nullopt;
        sample_rate = b[at++] * 1000u;
    } else if (rate_code >= 13) {
        if (b.size() < at + 3) return std::nullopt;
        sample_rate = be16(&b[at]) * (rate_code == 14 ? 10 : 1);
        at += 2;
    }
    constexpr std::array<int, 8> kSampleSizes = {0, 8, 12, 0, 16, 20, 24, 32};
    const int bits = sample_size_code == 0 ? info.bits_per_sample : kSampleSizes[sample_size_code];
    const int channels = channel_code < 8 ? static_cast<int>(channel_code) + 1 : 2;
    if (sample_rate != info.sample_rate || bits != info.bits_per_sample ||
        channels != info.channels ||
        (info.max_block_size != 0 && block_size > info.max_block_size)) {
        return std::nullopt;
    }
    // The CRC-8 covers the header, itself included: 0 when right.
    if (av_crc(av_crc_get_table(AV_CRC_8_ATM), 0, b.data(), at + 1) != 0) return std::nullopt;
    FlacFrameHeader header;
    header.block_size = block_size;
    header.header_bytes = at + 1;
    // In a fixed-block-size stream every frame but the last holds the STREAMINFO's largest
    // block, so frame n starts at sample n times that (n < 2^31, blocks < 2^16: no overflow).
    header.first_sample =
        variable_block_size
            ? number
            : number * (info.max_block_size != 0 ? info.max_block_size : block_size);
    return header;
}

// Whether the frame at the start of `b` ends within it: the CRC-16 that ends a frame covers
// the whole frame, so it comes out 0 over the bytes up to the frame's end. Checked at every
// length, as tags may follow the last frame.
bool flac_frame_is_whole(Bytes b, std::size_t header_bytes) {
    const AVCRC* table = av_crc_get_table(AV_CRC_16_ANSI);
    std::uint32_t crc = av_crc(table, 0, b.data(), header_bytes);
    // At least a byte of subframe, then the CRC-16 itself.
    for (std::size_t end = header_bytes; end < b.size();) {
        crc = av_crc(table, crc, &b[end++], 1);
        if (crc == 0 && end >= header_bytes + 3) return true;
    }
    return false;
}

// --- Ogg (RFC 3533 section 6) ---

constexpr std::size_t kOggHeaderBytes = 27;
constexpr std::uint8_t kOggEndOfStream = 0x04;
// Logical streams told apart in a tail: a recording has one, a hostile tail thousands.
constexpr std::size_t kMaxOggStreams = 64;

struct OggPageAt {
    OggPage page;
    std::size_t bytes = 0;
};

// The whole page at the start of `b`, when its CRC is right. The CRCs cover at most
// `crc_budget` bytes across calls (0 once a page would take more), so a tail of capture
// patterns that each declare a long page costs bounded work.
std::optional<OggPageAt> whole_ogg_page(Bytes b, std::size_t& crc_budget) {
    if (b.size() < kOggHeaderBytes || !tag_at(b, 0, "OggS") || b[4] != 0) return std::nullopt;
    const std::size_t segments = b[26];
    if (b.size() < kOggHeaderBytes + segments) return std::nullopt;
    std::size_t bytes = kOggHeaderBytes + segments;
    for (std::size_t i = 0; i < segments; ++i) bytes += b[kOggHeaderBytes + i];
    if (bytes > b.size()) return std::nullopt;
    if (bytes > crc_budget) {
        crc_budget = 0;
        return std::nullopt;
    }
    crc_budget -= bytes;
    // The CRC (poly 0x04C11DB7, unreflected) over the page with its own field taken as 0.
    const AVCRC* table = av_crc_get_table(AV_CRC_32_IEEE);
    constexpr std::array<std::uint8_t, 4> kZeros{};
    std::uint32_t crc = av_crc(table, 0, b.data(), 22);
    crc = av_crc(table, crc, kZeros.data(), kZeros.size());
    crc = av_crc(table, crc, b.data() + 26, bytes - 26);
    // The field holds the CRC little-endian; av_crc's unreflected tables give it byte-swapped.
    if (crc != be32(&b[22])) return std::nullopt;
    OggPageAt at;
    at.page.end_of_stream = (b[5] & kOggEndOfStream) != 0;
    at.page.granule = static_cast<std::int64_t>(le64(&b[6]));
    at.page.serial = le32(&b[14]);
    at.page.sequence = le32(&b[18]);
    at.bytes = bytes;
    return at;
}

bool is_box_type(Bytes t) {
    return std::all_of(t.begin(), t.begin() + 4, [](std::uint8_t c) {
        return std::isalnum(c) || c == ' ' || c == 0xA9;  // 0xA9: '©' in iTunes atoms
    });
}

}  // namespace

std::optional<WavDataChunk> read_wav_data_chunk(ByteSource& source) {
    const auto head = source.read_up_to(0, 12);
    if (!head || head->size() < 12) return std::nullopt;
    const Bytes h(*head);
    const bool rf64 = tag_at(h, 0, "RF64") || tag_at(h, 0, "BW64");
    if ((!tag_at(h, 0, "RIFF") && !rf64) || !tag_at(h, 8, "WAVE")) return std::nullopt;
    std::optional<std::uint64_t> ds64_data_bytes;
    std::uint64_t at = 12;
    for (int i = 0; i < 64 && at < source.size(); ++i) {
        const auto chunk = source.read_up_to(at, 8 + 16);
        if (!chunk || chunk->size() < 8) return std::nullopt;
        const Bytes c(*chunk);
        const std::uint32_t size = le32(&c[4]);
        if (tag_at(c, 0, "ds64") && c.size() >= 8 + 16) ds64_data_bytes = le64(&c[8 + 8]);
        if (tag_at(c, 0, "data")) {
            std::uint64_t declared = size;
            if (rf64 && size == 0xFFFFFFFF) {
                if (!ds64_data_bytes) return std::nullopt;
                declared = *ds64_data_bytes;
            } else if (size == 0 || size == 0xFFFFFFFF) {
                return std::nullopt;
            }
            return WavDataChunk{at + 8, declared};
        }
        at += 8 + std::uint64_t{size} + (size & 1);  // chunks are padded to even sizes
    }
    return std::nullopt;
}

std::optional<Mp3InfoTag> read_mp3_info_tag(ByteSource& source) {
    const auto tags_end = skip_id3v2(source);
    if (!tags_end) return std::nullopt;
    const std::uint64_t at = *tags_end;
    // The first frame, within a little junk after the tags.
    constexpr std::size_t kSearch = 4096;
    const auto window = source.read_up_to(at, kSearch + 4);
    if (!window) return std::nullopt;
    const Bytes w(*window);
    for (std::size_t i = 0; i + 4 <= w.size() && i < kSearch; ++i) {
        if (w[i] != 0xFF || (w[i + 1] & 0xE0) != 0xE0) continue;
        const auto frame = parse_layer3_header(be32(&w[i]));
        if (!frame) continue;
        Mp3InfoTag tag;
        tag.first_frame_offset = at + i;
        tag.sample_rate = frame->sample_rate;
        tag.samples_per_frame = frame->samples_per_frame;
        tag.frame_bytes = frame->frame_bytes;
        const auto info = source.read_up_to(at + i + 4, 32 + 160);
        if (!info) return std::nullopt;
        const Bytes x(*info);
        const bool found = (frame->side_info_bytes <= x.size() &&
                            parse_xing(x.subspan(frame->side_info_bytes), tag)) ||
                           (x.size() >= 32 && parse_vbri(x.subspan(32), tag));
        if (!found) return std::nullopt;
        return tag;
    }
    return std::nullopt;
}

std::optional<Mp4Box> find_mp4_box_past_end(ByteSource& source) {
    std::uint64_t at = 0;
    for (int i = 0; i < 256 && at < source.size(); ++i) {
        const auto h = source.read_up_to(at, 16);
        if (!h || h->size() < 8) return std::nullopt;
        const Bytes b(*h);
        if (!is_box_type(b.subspan(4, 4))) return std::nullopt;
        std::uint64_t size = be32(&b[0]);
        std::uint64_t header = 8;
        if (size == 1) {  // a 64-bit size follows the type
            if (b.size() < 16) return std::nullopt;
            size = be64(&b[8]);
            header = 16;
        } else if (size == 0) {  // the box runs to the end of the file
            return std::nullopt;
        }
        if (size < header) return std::nullopt;
        if (size > source.size() - at) {
            return Mp4Box{std::string(reinterpret_cast<const char*>(&b[4]), 4), at, size};
        }
        at += size;
    }
    return std::nullopt;
}

std::string read_ebml_doctype(ByteSource& source) {
    const auto head = source.read_up_to(0, 256);
    if (!head) return {};
    const Bytes b(*head);
    std::size_t at = 0;
    if (read_vint(b, at, true) != 0x1A45DFA3) return {};
    const auto header_size = read_vint(b, at, false);
    if (!header_size) return {};
    // The header's body, as far as the bytes read hold it; every read below stays inside it.
    const Bytes header = b.subspan(
        at, static_cast<std::size_t>(std::min<std::uint64_t>(*header_size, b.size() - at)));
    for (std::size_t in = 0; in < header.size();) {
        const auto id = read_vint(header, in, true);
        const auto size = read_vint(header, in, false);
        if (!id || !size || *size > header.size() - in) return {};
        const auto length = static_cast<std::size_t>(*size);
        if (*id == 0x4282) {  // DocType
            std::string doctype(reinterpret_cast<const char*>(header.data() + in), length);
            doctype.erase(std::find(doctype.begin(), doctype.end(), '\0'), doctype.end());
            return doctype;
        }
        in += length;
    }
    return {};
}

std::optional<std::int64_t> read_matroska_last_timestamp(ByteSource& source, std::uint64_t track,
                                                         std::size_t tail_bytes) {
    const auto tail = read_tail(source, tail_bytes);
    if (!tail || tail->size() < 4) return std::nullopt;
    const Bytes b(*tail);
    // The last cluster that starts in the tail and holds a block; a cluster cut short
    // right after its ID gives way to the one before.
    for (std::size_t at = b.size() - 4;; --at) {
        if (be32(&b[at]) == kCluster) {
            if (const auto t = last_timestamp_in_cluster(b, at, track)) return t;
        }
        if (at == 0) break;
    }
    return std::nullopt;
}

std::optional<FlacStreamInfo> read_flac_stream_info(ByteSource& source) {
    const auto start = skip_id3v2(source);
    if (!start) return std::nullopt;
    // "fLaC", then STREAMINFO, which must be the first metadata block (section 8.1).
    const auto head = source.read_up_to(*start, 8 + kFlacStreamInfoBytes);
    if (!head || head->size() < 8 + kFlacStreamInfoBytes) return std::nullopt;
    const Bytes h(*head);
    if (!tag_at(h, 0, "fLaC") || (h[4] & 0x7F) != 0 || be24(&h[5]) != kFlacStreamInfoBytes) {
        return std::nullopt;
    }
    const Bytes s = h.subspan(8);
    FlacStreamInfo info;
    info.min_block_size = be16(&s[0]);
    info.max_block_size = be16(&s[2]);
    info.max_frame_bytes = be24(&s[7]);
    // 20 bits of sample rate, 3 of channels - 1, 5 of bits per sample - 1, 36 of samples.
    const std::uint64_t packed = be64(&s[10]);
    info.sample_rate = static_cast<std::uint32_t>(packed >> 44);
    info.channels = static_cast<int>((packed >> 41) & 7) + 1;
    info.bits_per_sample = static_cast<int>((packed >> 36) & 0x1F) + 1;
    info.total_samples = packed & ((std::uint64_t{1} << 36) - 1);
    // The blocks after it, up to the one flagged last (section 8.1: flag 0x80, 24-bit size).
    bool last = (h[4] & 0x80) != 0;
    std::uint64_t at = *start + 8 + kFlacStreamInfoBytes;
    for (int i = 0; !last; ++i) {
        if (i == kMaxFlacMetadataBlocks) return std::nullopt;
        const auto block = source.read_up_to(at, 4);
        if (!block) return std::nullopt;
        if (block->size() < 4) {  // the file ends inside the metadata
            at = std::max(at, source.size()) + 1;
            break;
        }
        // Type 127 is forbidden so that a block header is never a frame's sync code.
        if (((*block)[0] & 0x7F) == 127) return std::nullopt;
        last = ((*block)[0] & 0x80) != 0;
        at += 4 + be24(&(*block)[1]);
    }
    info.frames_offset = at;
    return info;
}

std::optional<std::uint64_t> read_flac_samples_present(ByteSource& source,
                                                       const FlacStreamInfo& info,
                                                       std::size_t tail_bytes) {
    if (info.frames_offset >= source.size()) return 0;
    const auto tail = read_tail(source, tail_bytes, info.frames_offset);
    if (!tail) return std::nullopt;
    const Bytes b(*tail);
    // The last frame header: a false sync in a frame's data would also need its CRC-8 right
    // and the stream's parameters.
    for (std::size_t at = b.size(); at-- > 0;) {
        if (b[at] != 0xFF) continue;
        const auto frame = parse_flac_frame_header(
            b.subspan(at, std::min(kFlacMaxFrameHeaderBytes, b.size() - at)), info);
        if (!frame) continue;
        return frame->first_sample +
               (flac_frame_is_whole(b.subspan(at), frame->header_bytes) ? frame->block_size : 0);
    }
    return std::nullopt;
}

std::vector<OggPage> read_ogg_last_pages(ByteSource& source, std::size_t tail_bytes) {
    const auto tail = read_tail(source, tail_bytes);
    if (!tail) return {};
    const Bytes b(*tail);
    // A tail of pages costs one CRC pass over its bytes; four leave room for false capture
    // patterns, and running out gives no answer rather than a wrong one.
    std::size_t crc_budget = 4 * b.size();
    std::vector<OggPage> last;
    for (std::size_t at = 0; at + kOggHeaderBytes <= b.size();) {
        if (b[at] != 'O') {
            ++at;
            continue;
        }
        const auto page = whole_ogg_page(b.subspan(at), crc_budget);
        if (crc_budget == 0) return {};
        if (!page) {
            ++at;
            continue;
        }
        const auto same = std::find_if(last.begin(), last.end(), [&](const OggPage& p) {
            return p.serial == page->page.serial;
        });
        if (same != last.end()) {
            last.erase(same);
        } else if (last.size() == kMaxOggStreams) {
            return {};
        }
        last.push_back(page->page);
        last.back().offset = source.size() - b.size() + at;
        at += page->bytes;
    }
    return last;
}

std::string_view sniff_non_media(std::span<const std::uint8_t> head) {
    if (starts_with(head, "%PDF-")) return "a PDF document";
    if (starts_with(head, "PK\x03\x04")) return "a ZIP archive";
    if (starts_with(head, "\x1f\x8b")) return "a gzip archive";
    if (starts_with(head, "\x89PNG\r\n\x1a\n")) return "a PNG image";
    if (starts_with(head, "\xff\xd8\xff")) return "a JPEG image";
    if (starts_with(head, "GIF87a") || starts_with(head, "GIF89a")) return "a GIF image";
    // Text: printable bytes and whitespace only (bytes >= 0x80 may be UTF-8).
    if (head.empty() || !std::all_of(head.begin(), head.end(), [](std::uint8_t c) {
            return c >= 0x20 ? c != 0x7F : (c == '\t' || c == '\n' || c == '\r');
        })) {
        return {};
    }
    std::string start;
    for (const auto c : head) {
        if (start.empty() && (std::isspace(c) || c >= 0x80)) continue;  // blanks, a BOM
        start.push_back(static_cast<char>(std::tolower(c)));
        if (start.size() == 14) break;
    }
    if (start.starts_with("<!doctype html") || start.starts_with("<html")) return "an HTML page";
    if (start.starts_with("<?xml")) return "an XML document";
    if (start.starts_with("{")) return "JSON text";
    return "plain text";
}

}  // namespace audiodrop::media
