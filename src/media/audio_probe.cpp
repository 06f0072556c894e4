#include "media/audio_probe.hpp"

#include <algorithm>
#include <chrono>
#include <climits>
#include <cstdio>
#include <exception>
#include <memory>
#include <mutex>
#include <new>
#include <optional>
#include <string>

#include "media/byte_source.hpp"
#include "media/container_headers.hpp"
#include "media/filetype_table.hpp"

extern "C" {
#include <libavcodec/avcodec.h>
#include <libavformat/avformat.h>
#include <libavutil/avutil.h>
#include <libavutil/dict.h>
#include <libavutil/error.h>
#include <libavutil/mem.h>
}

namespace audiodrop::media {
namespace {

using Stop = ByteSource::Stop;

// No probe of an audio file needs one allocation this big; a hostile header that asks
// libavformat for more gets ENOMEM instead of the memory.
constexpr std::size_t kMaxAllocation = 256u << 20;
// A recording has one or two streams; a header that declares thousands is hostile.
constexpr int kMaxStreams = 64;
// Audio packets handed to the decoder before the stream is called undecodable, and packets
// of any stream read while looking for them.
constexpr int kMaxDecodedPackets = 64;
constexpr int kMaxReadPackets = 4096;
// A Xing/VBRI byte count may differ from the file by a frame or so without the file being
// cut short (writers disagree on whether the info frame counts).
constexpr std::uint64_t kMp3SizeSlack = 2048;
// How much of a live WebM's end is read to find its duration (its header gives none).
constexpr std::uint64_t kTailBytes = 256 * 1024;
// How much of a FLAC file's end is read to find its last frame: at least two of the largest
// frames its STREAMINFO declares (so a whole frame precedes one cut short), within bounds.
constexpr std::uint64_t kMinFlacTailBytes = 64 * 1024;
constexpr std::uint64_t kMaxFlacTailBytes = 1024 * 1024;
// ...and of an Ogg file's end to find its last pages: two of the largest pages (RFC 3533
// section 6: a 27-byte header, 255 lacing values, 255 segments of 255 bytes), so a whole page
// precedes one cut short.
constexpr std::size_t kOggTailBytes = 2 * (27 + 255 + 255 * 255);

// FFmpeg state that is per process: its logging (the service logs the sentence itself)
// and its largest allocation.
void configure_ffmpeg_once() {
    static std::once_flag once;
    std::call_once(once, [] {
        av_log_set_level(AV_LOG_QUIET);
        av_max_alloc(kMaxAllocation);
    });
}

std::string av_error(int code) {
    char text[AV_ERROR_MAX_STRING_SIZE] = {};
    av_strerror(code, text, sizeof text);
    return text;
}

// "1.6 s", for sentences.
std::string seconds(std::int64_t ms) {
    char text[32];
    std::snprintf(text, sizeof text, "%.1f s", static_cast<double>(ms) / 1000.0);
    return text;
}

// "16 MiB", else "1000 bytes".
std::string byte_count(std::uint64_t n) {
    if (n >= (1u << 20) && n % (1u << 20) == 0) return std::to_string(n >> 20) + " MiB";
    if (n >= (1u << 10) && n % (1u << 10) == 0) return std::to_string(n >> 10) + " KiB";
    return std::to_string(n) + " bytes";
}

// --- the AVIO context over the ByteSource ---

struct AvioState {
    ByteSource& source;
    std::int64_t position = 0;
};

// Called from C: nothing may be thrown through it.
int avio_read(void* opaque, std::uint8_t* buf, int buf_size) noexcept {
    auto& io = *static_cast<AvioState*>(opaque);
    if (buf_size <= 0) return AVERROR(EINVAL);
    std::optional<std::size_t> got;
    try {
        got = io.source.read_some(static_cast<std::uint64_t>(io.position),
                                  std::span(buf, static_cast<std::size_t>(buf_size)));
    } catch (const std::bad_alloc&) {  // making the read's error sentence
        return AVERROR(ENOMEM);
    }
    if (!got) return io.source.stop() == Stop::deadline_passed ? AVERROR_EXIT : AVERROR(EIO);
    if (*got == 0) return AVERROR_EOF;
    io.position += static_cast<std::int64_t>(*got);
    return static_cast<int>(*got);
}

std::int64_t avio_seek(void* opaque, std::int64_t offset, int whence) noexcept {
    auto& io = *static_cast<AvioState*>(opaque);
    const auto size = static_cast<std::int64_t>(
        std::min<std::uint64_t>(io.source.size(), static_cast<std::uint64_t>(INT64_MAX)));
    if (whence & AVSEEK_SIZE) return size;
    std::int64_t base = 0;
    switch (whence & ~AVSEEK_FORCE) {
        case SEEK_SET:
            base = 0;
            break;
        case SEEK_CUR:
            base = io.position;
            break;
        case SEEK_END:
            base = size;
            break;
        default:
            return AVERROR(EINVAL);
    }
    std::int64_t target = 0;
    if (__builtin_add_overflow(base, offset, &target) || target < 0) return AVERROR(EINVAL);
    io.position = target;
    return target;
}

int interrupted(void* opaque) noexcept {
    return static_cast<ByteSource*>(opaque)->past_deadline() ? 1 : 0;
}

// Demuxers that open further URLs (HLS and DASH playlists, concat lists, image sequences)
// get nothing: a probe reads the uploaded bytes and nothing else.
int refuse_nested_open(AVFormatContext*, AVIOContext**, const char*, int, AVDictionary**) noexcept {
    return AVERROR(EPERM);
}

struct AvioFree {
    void operator()(AVIOContext* io) const {
        av_freep(&io->buffer);  // libavformat may have replaced the buffer we gave it
        avio_context_free(&io);
    }
};
struct FormatClose {
    // Needs AVFMT_FLAG_CUSTOM_IO set, or it would close our AVIO context as its own.
    void operator()(AVFormatContext* f) const { avformat_close_input(&f); }
};
struct CodecFree {
    void operator()(AVCodecContext* c) const { avcodec_free_context(&c); }
};
struct PacketFree {
    void operator()(AVPacket* p) const { av_packet_free(&p); }
};
struct FrameFree {
    void operator()(AVFrame* f) const { av_frame_free(&f); }
};
using Avio = std::unique_ptr<AVIOContext, AvioFree>;
using Format = std::unique_ptr<AVFormatContext, FormatClose>;

template <class T>
T* checked(T* allocated) {
    if (allocated == nullptr) throw std::bad_alloc();
    return allocated;
}

// --- naming what was found ---

std::string container_name(std::string_view name, ByteSource& source) {
    if (name == "mov,mp4,m4a,3gp,3g2,mj2") return "mp4";
    if (name == "matroska,webm") return read_ebml_doctype(source) == "webm" ? "webm" : "matroska";
    if (name == "amrnb" || name == "amrwb") return "amr";
    return std::string(name.substr(0, name.find(',')));
}

// "a PNG image" for libavformat's image demuxers; empty for everything else.
std::string image_phrase(const AVInputFormat& format) {
    const std::string_view name = format.name;
    struct Known {
        std::string_view demuxer, phrase;
    };
    constexpr Known kKnown[] = {
        {"png_pipe", "a PNG image"},   {"jpeg_pipe", "a JPEG image"}, {"gif", "a GIF image"},
        {"gif_pipe", "a GIF image"},   {"webp_pipe", "a WebP image"}, {"bmp_pipe", "a BMP image"},
        {"tiff_pipe", "a TIFF image"}, {"svg_pipe", "an SVG image"},
    };
    for (const auto& k : kKnown) {
        if (k.demuxer == name) return std::string(k.phrase);
    }
    if (name.ends_with("_pipe")) {  // libavformat's other single-image demuxers
        return "an image (" + std::string(format.long_name ? format.long_name : name) + ")";
    }
    return {};
}

// Containers that refer to other files or network streams instead of holding media: never
// opened (refuse_nested_open and the empty protocol whitelist would refuse their URLs too).
std::string_view reference_phrase(std::string_view name) {
    struct Known {
        std::string_view demuxer, phrase;
    };
    constexpr Known kKnown[] = {
        {"hls", "an HLS playlist"},
        {"dash", "a DASH manifest"},
        {"concat", "an FFmpeg concat list"},
        {"sdp", "an SDP session description"},
        {"imf", "an IMF composition playlist"},
        {"rtsp", "an RTSP stream description"},
    };
    for (const auto& k : kKnown) {
        if (k.demuxer == name) return k.phrase;
    }
    return {};
}

// The first stream that is video rather than cover art.
const AVStream* first_video(const AVFormatContext& f) {
    for (unsigned i = 0; i < f.nb_streams; ++i) {
        const AVStream* s = f.streams[i];
        if (s->codecpar->codec_type == AVMEDIA_TYPE_VIDEO &&
            !(s->disposition & AV_DISPOSITION_ATTACHED_PIC)) {
            return s;
        }
    }
    return nullptr;
}

std::int64_t duration_ms(const AVFormatContext& f, const AVStream& s) {
    std::int64_t ms = 0;
    if (s.duration != AV_NOPTS_VALUE && s.duration > 0) {
        ms = av_rescale_q(s.duration, s.time_base, AVRational{1, 1000});
    } else if (f.duration != AV_NOPTS_VALUE && f.duration > 0) {
        ms = av_rescale(f.duration, 1000, AV_TIME_BASE);
    }
    return std::max<std::int64_t>(ms, 0);
}

// Empty when a decoder turns one of the stream's first packets into audio; else why not.
// packet_duration: the first audio packet's, in the stream's time base.
std::string decode_first_frame(AVFormatContext& f, int index, std::int64_t& packet_duration) {
    const AVCodecParameters& par = *f.streams[index]->codecpar;
    const std::string name = avcodec_get_name(par.codec_id);
    const AVCodec* codec = avcodec_find_decoder(par.codec_id);
    if (codec == nullptr) return "this server's FFmpeg has no " + name + " decoder";
    std::unique_ptr<AVCodecContext, CodecFree> ctx(checked(avcodec_alloc_context3(codec)));
    if (const int r = avcodec_parameters_to_context(ctx.get(), &par); r < 0) {
        return "the " + name + " stream's parameters are unusable (" + av_error(r) + ")";
    }
    ctx->thread_count = 1;  // the worker pool is the parallelism
    if (const int r = avcodec_open2(ctx.get(), codec, nullptr); r < 0) {
        return "the " + name + " decoder refuses the stream's parameters (" + av_error(r) + ")";
    }
    std::unique_ptr<AVPacket, PacketFree> packet(checked(av_packet_alloc()));
    std::unique_ptr<AVFrame, FrameFree> frame(checked(av_frame_alloc()));
    int decoder_error = 0;
    int decoded = 0;
    for (int read = 0; decoded < kMaxDecodedPackets && read < kMaxReadPackets; ++read) {
        const int r = av_read_frame(&f, packet.get());
        if (r < 0) {
            // The end (or a read error): whatever the decoder holds back comes out now.
            if (avcodec_send_packet(ctx.get(), nullptr) >= 0 &&
                avcodec_receive_frame(ctx.get(), frame.get()) >= 0) {
                return {};
            }
            if (decoder_error != 0) {
                return "the " + name + " decoder rejects the first packets (" +
                       av_error(decoder_error) + ")";
            }
            if (decoded == 0) return "the " + name + " stream ends before its first packet";
            return "the " + name + " decoder produced no audio from the stream's packets";
        }
        if (packet->stream_index != index) {
            av_packet_unref(packet.get());
            continue;
        }
        if (decoded++ == 0) packet_duration = std::max<std::int64_t>(packet->duration, 0);
        const int sent = avcodec_send_packet(ctx.get(), packet.get());
        av_packet_unref(packet.get());
        if (sent < 0 && sent != AVERROR(EAGAIN)) {
            decoder_error = sent;
            continue;
        }
        const int received = avcodec_receive_frame(ctx.get(), frame.get());
        if (received >= 0) return {};
        if (received != AVERROR(EAGAIN)) decoder_error = received;
    }
    return "the " + name + " decoder produced no audio from the first " + std::to_string(decoded) +
           " packets" + (decoder_error != 0 ? " (" + av_error(decoder_error) + ")" : "");
}

// --- truncation: what the container declares against the bytes there are ---

// Each check returns the sentence (empty when the file is whole) and may set
// facts.duration_ms to the duration of what is present.

std::string wav_truncation(ByteSource& source, AudioFacts& facts, std::int64_t stream_bit_rate) {
    const auto chunk = read_wav_data_chunk(source);
    if (!chunk || chunk->offset > source.size()) return {};
    const std::uint64_t present = source.size() - chunk->offset;
    if (chunk->declared_bytes <= present) return {};
    std::string sentence = "the file is truncated: its WAV data chunk declares " +
                           std::to_string(chunk->declared_bytes) + " bytes of audio but only " +
                           std::to_string(present) + " are present";
    if (stream_bit_rate > 0) {
        const double ms_per_byte = 8000.0 / static_cast<double>(stream_bit_rate);
        facts.duration_ms = static_cast<std::int64_t>(static_cast<double>(present) * ms_per_byte);
        sentence += " (" + seconds(facts.duration_ms) + " of " +
                    seconds(static_cast<std::int64_t>(static_cast<double>(chunk->declared_bytes) *
                                                      ms_per_byte)) +
                    ")";
    }
    return sentence;
}

std::string mp3_truncation(ByteSource& source, AudioFacts& facts) {
    const auto tag = read_mp3_info_tag(source);
    if (!tag || tag->first_frame_offset > source.size()) return {};
    // Gapless duration: the LAME tag says how many of the frames' samples are not audio.
    if (tag->frames && tag->encoder_delay && tag->encoder_padding && tag->sample_rate > 0) {
        const std::int64_t samples = std::int64_t{*tag->frames} * tag->samples_per_frame -
                                     *tag->encoder_delay - *tag->encoder_padding;
        if (samples > 0) facts.duration_ms = samples * 1000 / tag->sample_rate;
    }
    std::optional<std::uint64_t> declared = tag->bytes;
    if (!declared && tag->frames && tag->constant_bit_rate) {
        declared = std::uint64_t{*tag->frames} * tag->frame_bytes;
    }
    const std::uint64_t present = source.size() - tag->first_frame_offset;
    if (!declared || *declared <= present + kMp3SizeSlack) return {};
    const std::int64_t whole_ms = facts.duration_ms;
    facts.duration_ms =
        static_cast<std::int64_t>(static_cast<double>(whole_ms) * static_cast<double>(present) /
                                  static_cast<double>(*declared));
    return "the file is truncated: its " + std::string(tag->constant_bit_rate ? "Info" : "Xing") +
           " header declares " + std::to_string(*declared) + " bytes of MP3 frames but only " +
           std::to_string(present) + " are present (about " + seconds(facts.duration_ms) + " of " +
           seconds(whole_ms) + ")";
}

std::string mp4_box_truncation(ByteSource& source) {
    const auto box = find_mp4_box_past_end(source);
    if (!box) return {};
    std::string type;
    for (const char c : box->type) type.push_back(c >= 0x20 && c <= 0x7E ? c : '?');
    return "the file is truncated: its mp4 '" + type + "' box at byte " +
           std::to_string(box->offset) + " declares " + std::to_string(box->declared_bytes) +
           " bytes but the file ends " + std::to_string(source.size() - box->offset) +
           " bytes into it";
}

std::string mp4_truncation(ByteSource& source, AVStream& stream, AudioFacts& facts) {
    // The sample table (stsz/stco) as libavformat indexed it: where each packet lies.
    const int entries = avformat_index_get_entries_count(&stream);
    std::uint64_t furthest = 0;
    std::optional<std::int64_t> first_missing;  // timestamp of the first packet past the end
    std::optional<std::int64_t> first;
    for (int i = 0; i < entries; ++i) {
        const AVIndexEntry* e = avformat_index_get_entry(&stream, i);
        if (e == nullptr || e->pos < 0) continue;
        if (!first) first = e->timestamp;
        const std::uint64_t end = static_cast<std::uint64_t>(e->pos) + e->size;
        furthest = std::max(furthest, end);
        if (end > source.size() && !first_missing) first_missing = e->timestamp;
    }
    if (!first_missing) return mp4_box_truncation(source);
    const std::int64_t whole_ms = facts.duration_ms;
    std::int64_t present_ticks = 0;
    if (!__builtin_sub_overflow(*first_missing, *first, &present_ticks) && present_ticks > 0) {
        facts.duration_ms = std::clamp<std::int64_t>(
            av_rescale_q(present_ticks, stream.time_base, AVRational{1, 1000}), 0, whole_ms);
    } else {
        facts.duration_ms = 0;
    }
    return "the file is truncated: its mp4 sample table places audio up to byte " +
           std::to_string(furthest) + " but the file ends at byte " +
           std::to_string(source.size()) + " (" + seconds(facts.duration_ms) + " of " +
           seconds(whole_ms) + " present)";
}

std::string flac_truncation(ByteSource& source, AudioFacts& facts) {
    const auto info = read_flac_stream_info(source);
    if (!info || info->total_samples == 0 || info->sample_rate == 0) return {};
    const auto tail_bytes = static_cast<std::size_t>(std::clamp<std::uint64_t>(
        2 * std::uint64_t{info->max_frame_bytes}, kMinFlacTailBytes, kMaxFlacTailBytes));
    const auto present = read_flac_samples_present(source, *info, tail_bytes);
    if (!present || *present >= info->total_samples) return {};
    // Samples fit in 36 bits: no overflow.
    facts.duration_ms = static_cast<std::int64_t>(*present * 1000 / info->sample_rate);
    return "the file is truncated: its FLAC STREAMINFO declares " +
           std::to_string(info->total_samples) + " samples but only " + std::to_string(*present) +
           " are present (" + seconds(facts.duration_ms) + " of " +
           seconds(static_cast<std::int64_t>(info->total_samples * 1000 / info->sample_rate)) + ")";
}

// Ogg declares no length, but its writer flags each stream's last page (RFC 3533 section 6:
// header_type 0x04); a stream whose last page lacks the flag was cut short. libavformat's
// duration already ends at the last whole page's granule position.
std::string ogg_truncation(ByteSource& source, const AudioFacts& facts) {
    for (const auto& page : read_ogg_last_pages(source, kOggTailBytes)) {
        if (page.end_of_stream) continue;
        return "the file is truncated: the last Ogg page of stream " + std::to_string(page.serial) +
               " (page " + std::to_string(page.sequence) + ") lacks the end-of-stream flag (" +
               seconds(facts.duration_ms) + " present)";
    }
    return {};
}

// --- the probe ---

class Probe {
  public:
    Probe(ByteSource& source, std::string_view declared, const ProbeLimits& limits)
        : source_(source), declared_(declared), limits_(limits), io_state_{source} {}

    // Fills outcome.audio and outcome.problem; reading may stop underway (source.stop()),
    // which the caller reports instead.
    void run(ProbeOutcome& outcome) {
        if (source_.size() == 0) {
            outcome.problem = "not decodable audio: the file is empty";
            return;
        }
        open_io();
        const AVInputFormat* input = nullptr;
        if (av_probe_input_buffer2(avio_.get(), &input, "", nullptr, 0,
                                   static_cast<unsigned>(format_->format_probesize)) < 0 ||
            input == nullptr) {
            if (source_.stop() == Stop::none) outcome.problem = unrecognised();
            return;
        }
        if (auto image = image_phrase(*input); !image.empty()) {
            outcome.problem = declared_phrase(declared_) + ", found " + image;
            return;
        }
        if (auto reference = reference_phrase(input->name); !reference.empty()) {
            outcome.problem = declared_phrase(declared_) + ", found " + std::string(reference) +
                              ", which refers to other files instead of holding audio";
            return;
        }
        const std::string format = container_name(input->name, source_);

        AVDictionary* options = nullptr;
        av_dict_set(&options, "protocol_whitelist", "none", 0);
        AVFormatContext* raw = format_.release();
        const int opened = avformat_open_input(&raw, "", input, &options);
        av_dict_free(&options);
        format_.reset(raw);  // null when opening failed: libavformat freed it
        if (opened < 0) {
            std::string cut = truncation_before_audio(format);
            outcome.problem = !cut.empty() ? cut
                                           : "not decodable audio: libavformat cannot read the " +
                                                 format + " container (" + av_error(opened) + ")";
            return;
        }
        if (const int r = avformat_find_stream_info(format_.get(), nullptr); r < 0) {
            outcome.problem = "not decodable audio: libavformat cannot read the streams of the " +
                              format + " container (" + av_error(r) + ")";
            return;
        }

        AVFormatContext& f = *format_;
        const AVStream* video = first_video(f);
        const int index = av_find_best_stream(&f, AVMEDIA_TYPE_AUDIO, -1, -1, nullptr, 0);
        if (index < 0) {
            outcome.problem = declared_phrase(declared_) + ", found " +
                              (video != nullptr ? format + " video (" + codec_name(*video) + ")"
                                                : what_container(*input, format)) +
                              " with no audio";
            return;
        }
        AVStream& stream = *f.streams[index];
        const AVCodecParameters& par = *stream.codecpar;
        if (par.codec_id == AV_CODEC_ID_NONE || par.sample_rate <= 0 ||
            par.ch_layout.nb_channels <= 0) {
            outcome.problem = "not decodable audio: the " + format +
                              " container's audio stream has no recognisable codec, sample rate "
                              "or channel count";
            return;
        }
        AudioFacts facts;
        facts.format = format;
        facts.codec = codec_name(stream);
        facts.duration_ms = duration_ms(f, stream);
        facts.sample_rate = par.sample_rate;
        facts.channels = par.ch_layout.nb_channels;
        facts.bit_rate = f.bit_rate > 0 ? f.bit_rate : std::max<std::int64_t>(par.bit_rate, 0);

        std::int64_t packet_duration = 0;
        if (auto why = decode_first_frame(f, index, packet_duration); !why.empty()) {
            // A file cut before its first whole packet: the cut is what to tell.
            std::string cut = truncation(format, stream, facts);
            outcome.problem = !cut.empty() ? std::move(cut) : "not decodable audio: " + why;
            return;
        }
        if (facts.duration_ms == 0 && (format == "webm" || format == "matroska")) {
            facts.duration_ms = matroska_duration_from_tail(stream, packet_duration);
            if (facts.bit_rate == 0 && facts.duration_ms > 0) {
                facts.bit_rate =
                    static_cast<std::int64_t>(static_cast<double>(source_.size()) * 8000.0 /
                                              static_cast<double>(facts.duration_ms));
            }
        }
        // Truncation checks also correct the duration, so they run even on a mismatch.
        std::string cut = truncation(format, stream, facts);

        if (video != nullptr) {
            outcome.problem = declared_phrase(declared_) + ", found " + format + " video (" +
                              codec_name(*video) + ") with " + facts.codec + " audio";
        } else {
            outcome.problem = describe_mismatch(declared_, facts);
        }
        if (outcome.problem.empty()) outcome.problem = std::move(cut);
        outcome.audio = std::move(facts);
    }

  private:
    // The sentence when the container declares more than the bytes hold (empty when not, or
    // when the container declares nothing to compare); sets facts.duration_ms to what is
    // present.
    std::string truncation(const std::string& format, AVStream& stream, AudioFacts& facts) {
        if (format == "wav") return wav_truncation(source_, facts, stream.codecpar->bit_rate);
        if (format == "mp3") return mp3_truncation(source_, facts);
        if (format == "mp4") return mp4_truncation(source_, stream, facts);
        if (format == "flac") return flac_truncation(source_, facts);
        if (format == "ogg") return ogg_truncation(source_, facts);
        return {};
    }

    // The sentence when a container that libavformat cannot open is cut short: no facts.
    std::string truncation_before_audio(const std::string& format) {
        AudioFacts none;
        if (format == "mp4") return mp4_box_truncation(source_);
        if (format == "flac") return flac_truncation(source_, none);
        if (format == "ogg") return ogg_truncation(source_, none);
        return {};
    }

    // A live WebM declares no duration: its last block's end, less the stream's start.
    std::int64_t matroska_duration_from_tail(const AVStream& stream, std::int64_t packet_duration) {
        // libavformat numbers Matroska streams by their TrackNumber.
        const auto track = static_cast<std::uint64_t>(std::max(stream.id, 0));
        const auto last = read_matroska_last_timestamp(source_, track, kTailBytes);
        const std::int64_t start = stream.start_time != AV_NOPTS_VALUE ? stream.start_time : 0;
        std::int64_t ticks = 0;
        if (!last || __builtin_sub_overflow(*last, start, &ticks) ||
            __builtin_add_overflow(ticks, packet_duration, &ticks) || ticks <= 0) {
            return 0;
        }
        return std::max<std::int64_t>(av_rescale_q(ticks, stream.time_base, AVRational{1, 1000}),
                                      0);
    }

    void open_io() {
        const auto buffer_bytes = static_cast<int>(
            std::clamp<std::size_t>(limits_.io_buffer_bytes, 4096, std::size_t{1} << 24));
        auto* buffer = static_cast<unsigned char*>(checked(av_malloc(buffer_bytes)));
        avio_.reset(
            avio_alloc_context(buffer, buffer_bytes, 0, &io_state_, avio_read, nullptr, avio_seek));
        if (!avio_) {
            av_free(buffer);
            throw std::bad_alloc();
        }
        format_.reset(checked(avformat_alloc_context()));
        AVFormatContext& f = *format_;
        f.pb = avio_.get();
        f.flags |= AVFMT_FLAG_CUSTOM_IO;
        f.probesize = std::max<std::int64_t>(limits_.probesize, 32);
        // Recognising the container reads up to 1 MiB (libavformat's own ceiling).
        f.format_probesize = static_cast<int>(std::clamp<std::int64_t>(
            limits_.probesize, AVPROBE_PADDING_SIZE + 2048, std::int64_t{1} << 20));
        f.max_analyze_duration = std::max<std::int64_t>(limits_.analyzeduration_us, 0);
        f.interrupt_callback = AVIOInterruptCB{interrupted, &source_};
        f.io_open = refuse_nested_open;
        f.max_streams = kMaxStreams;
    }

    // No container: name the file if its first bytes say what it is.
    std::string unrecognised() {
        const auto head = source_.read_up_to(0, 512);
        if (!head) return {};
        const auto what = sniff_non_media(*head);
        if (!what.empty()) return declared_phrase(declared_) + ", found " + std::string(what);
        return "not decodable audio: libavformat recognises no container in these bytes";
    }

    static std::string what_container(const AVInputFormat& input, const std::string& format) {
        if (input.long_name == nullptr || format == input.long_name) return format;
        return format + " (" + input.long_name + ")";
    }

    static std::string codec_name(const AVStream& s) {
        return avcodec_get_name(s.codecpar->codec_id);
    }

    ByteSource& source_;
    std::string_view declared_;
    const ProbeLimits& limits_;
    AvioState io_state_;
    // Declared after the AVIO context so they are destroyed first.
    Avio avio_;
    Format format_;
};

std::string stopped_sentence(const ByteSource& source, const ProbeLimits& limits) {
    switch (source.stop()) {
        case Stop::read_failed: {
            const auto& e = source.read_error();
            return "could not read the file to probe it: " + (!e ? std::string("unknown error")
                                                              : !e->message.empty() ? e->message
                                                                                    : e->code);
        }
        case Stop::budget_spent:
            return "not decodable audio: probing read its budget of " +
                   byte_count(source.max_bytes_read()) + " without making sense of the container";
        case Stop::deadline_passed:
            return "could not probe the file within its deadline of " +
                   std::to_string(limits.deadline.count()) + " ms";
        case Stop::none:
            break;
    }
    return {};
}

}  // namespace

ProbeOutcome probe_audio(std::uint64_t size, const ReadAt& read, std::string_view declared_filetype,
                         const ProbeLimits& limits) {
    ProbeOutcome outcome;
    try {
        configure_ffmpeg_once();
        // Clamped so that adding it to now() cannot overflow.
        const auto deadline = std::clamp<std::chrono::milliseconds>(
            limits.deadline, std::chrono::milliseconds(0), std::chrono::hours(24));
        ByteSource source(size, read, limits.max_bytes_read, ByteSource::Clock::now() + deadline);
        try {
            Probe(source, declared_filetype, limits).run(outcome);
        } catch (const std::bad_alloc&) {
            outcome.audio.reset();
            outcome.problem = "could not probe the file: out of memory";
        }
        if (source.stop() != Stop::none) {
            outcome.audio.reset();
            outcome.problem = stopped_sentence(source, limits);
            outcome.read_error = source.read_error();
        }
        outcome.bytes_read = source.bytes_read();
    } catch (const std::exception& e) {
        outcome.audio.reset();
        outcome.problem = std::string("could not probe the file: ") + e.what();
    }
    return outcome;
}

}  // namespace audiodrop::media
