#include "media/container_headers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "read_at_fakes.hpp"

namespace audiodrop::media {
namespace {

using namespace std::string_literals;
using test::bytes_of;
using test::read_memory;

ByteSource::Clock::time_point far_future() {
    return ByteSource::Clock::now() + std::chrono::hours(1);
}

std::string le32(std::uint32_t v) {
    return {static_cast<char>(v), static_cast<char>(v >> 8), static_cast<char>(v >> 16),
            static_cast<char>(v >> 24)};
}
std::string be32(std::uint32_t v) {
    return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8),
            static_cast<char>(v)};
}

std::string be16(std::uint32_t v) { return {static_cast<char>(v >> 8), static_cast<char>(v)}; }
std::string be24(std::uint32_t v) { return static_cast<char>(v >> 16) + be16(v); }
std::string be64(std::uint64_t v) {
    return be32(static_cast<std::uint32_t>(v >> 32)) + be32(static_cast<std::uint32_t>(v));
}
std::string le64(std::uint64_t v) {
    return le32(static_cast<std::uint32_t>(v)) + le32(static_cast<std::uint32_t>(v >> 32));
}

// Runs `f` over a ByteSource reading `bytes`.
template <class F>
auto with_source(const std::vector<std::uint8_t>& bytes, F f) {
    const ReadAt read = read_memory(bytes);
    ByteSource source(bytes.size(), read, 1 << 20, far_future());
    return f(source);
}

// --- ByteSource ---

TEST(ByteSource, CountsBytesAndStopsAtTheBudget) {
    const auto bytes = bytes_of(std::string(100, 'x'));
    const ReadAt read = read_memory(bytes);
    ByteSource source(bytes.size(), read, 60, far_future());
    std::vector<std::uint8_t> out(50);
    EXPECT_EQ(source.read_some(0, out), 50u);
    EXPECT_EQ(source.read_some(50, out), 10u);  // what is left of the budget
    EXPECT_EQ(source.read_some(60, out), std::nullopt);
    EXPECT_EQ(source.stop(), ByteSource::Stop::budget_spent);
    EXPECT_EQ(source.bytes_read(), 60u);
}

TEST(ByteSource, ReadsNothingPastTheEnd) {
    const auto bytes = bytes_of("abc");
    const ReadAt read = [&](std::uint64_t offset, std::span<std::uint8_t> out) {
        EXPECT_LE(offset + out.size(), bytes.size());
        return read_memory(bytes)(offset, out);
    };
    ByteSource source(bytes.size(), read, 100, far_future());
    EXPECT_EQ(source.read_up_to(1, 10), bytes_of("bc"));
    EXPECT_EQ(source.read_up_to(3, 10), bytes_of(""));
    EXPECT_EQ(source.read_up_to(1ull << 62, 10), bytes_of(""));
}

TEST(ByteSource, AThrowingReaderStopsReading) {
    const ReadAt read = [](std::uint64_t, std::span<std::uint8_t>) -> core::Result<std::size_t> {
        throw std::runtime_error("boom");
    };
    ByteSource source(10, read, 100, far_future());
    EXPECT_EQ(source.read_up_to(0, 4), std::nullopt);
    EXPECT_EQ(source.stop(), ByteSource::Stop::read_failed);
    ASSERT_TRUE(source.read_error());
    EXPECT_EQ(source.read_error()->message, "reading threw: boom");
}

TEST(ByteSource, NothingIsReadPastTheDeadline) {
    const auto bytes = bytes_of("abc");
    const ReadAt read = read_memory(bytes);
    ByteSource source(bytes.size(), read, 100, ByteSource::Clock::now());
    EXPECT_EQ(source.read_up_to(0, 3), std::nullopt);
    EXPECT_EQ(source.stop(), ByteSource::Stop::deadline_passed);
    EXPECT_EQ(source.bytes_read(), 0u);
}

// --- WAV ---

std::string wav(const std::string& chunks_before_data, std::uint32_t data_size,
                std::size_t data_present, const std::string& form = "RIFF") {
    const std::string fmt = "fmt "s + le32(16) + std::string(16, '\1');
    return form + le32(0) + "WAVE" + fmt + chunks_before_data + "data" + le32(data_size) +
           std::string(data_present, '\0');
}

TEST(WavDataChunk, IsFoundAfterOtherChunks) {
    const auto bytes = bytes_of(wav("LIST"s + le32(3) + "abc" + '\0', 1000, 10));
    const auto chunk = with_source(bytes, read_wav_data_chunk);
    ASSERT_TRUE(chunk);
    EXPECT_EQ(chunk->offset, bytes.size() - 10);
    EXPECT_EQ(chunk->declared_bytes, 1000u);
}

TEST(WavDataChunk, Rf64TakesItsSizeFromDs64) {
    const std::string ds64 =
        "ds64"s + le32(28) + le32(0) + le32(0) + le32(0x2345) + le32(1) + std::string(12, '\0');
    const auto chunk = with_source(bytes_of(wav(ds64, 0xFFFFFFFF, 4, "RF64")), read_wav_data_chunk);
    ASSERT_TRUE(chunk);
    EXPECT_EQ(chunk->declared_bytes, 0x1'0000'2345u);
}

TEST(WavDataChunk, UnknownSizesAndOtherFilesAreNone) {
    EXPECT_FALSE(with_source(bytes_of(wav("", 0xFFFFFFFF, 4)), read_wav_data_chunk));
    EXPECT_FALSE(with_source(bytes_of(wav("", 0, 4)), read_wav_data_chunk));
    EXPECT_FALSE(with_source(bytes_of("RIFF\0\0\0\0AVI LIST"s), read_wav_data_chunk));
    EXPECT_FALSE(with_source(bytes_of("RIFF"), read_wav_data_chunk));
}

// --- MP3 ---

// MPEG-1 Layer III, 128 kbit/s, 44.1 kHz, joint stereo: 417-byte frames, 32 bytes of side
// information before the Xing header.
const std::string kFrameHeader = "\xFF\xFB\x90\x64"s;

TEST(Mp3InfoTag, ReadsXingAndLameAfterAnId3Tag) {
    const std::string id3 = "ID3\x04\x00\x00\x00\x00\x00\x05"s + "12345";
    const std::string lame = "LAME3.100"s + std::string(12, '\0') + "\x24\x04\x80"s;
    const std::string xing = "Xing"s + be32(0x3) + be32(500) + be32(200'000) + lame;
    const auto bytes =
        bytes_of(id3 + kFrameHeader + std::string(32, '\0') + xing + std::string(400, '\0'));
    const auto tag = with_source(bytes, read_mp3_info_tag);
    ASSERT_TRUE(tag);
    EXPECT_EQ(tag->first_frame_offset, 15u);
    EXPECT_EQ(tag->sample_rate, 44100);
    EXPECT_EQ(tag->samples_per_frame, 1152);
    EXPECT_EQ(tag->frame_bytes, 417u);
    EXPECT_FALSE(tag->constant_bit_rate);
    EXPECT_EQ(tag->frames, 500u);
    EXPECT_EQ(tag->bytes, 200'000u);
    EXPECT_EQ(tag->encoder_delay, 576);
    EXPECT_EQ(tag->encoder_padding, 1152);
}

TEST(Mp3InfoTag, ReadsVbri) {
    const std::string vbri = "VBRI"s + std::string(6, '\0') + be32(300'000) + be32(700);
    const auto tag =
        with_source(bytes_of(kFrameHeader + std::string(32, '\0') + vbri + std::string(100, '\0')),
                    read_mp3_info_tag);
    ASSERT_TRUE(tag);
    EXPECT_EQ(tag->bytes, 300'000u);
    EXPECT_EQ(tag->frames, 700u);
}

TEST(Mp3InfoTag, AFrameWithoutOneIsNone) {
    EXPECT_FALSE(with_source(bytes_of(kFrameHeader + std::string(600, '\0')), read_mp3_info_tag));
    EXPECT_FALSE(with_source(bytes_of("ID3\x04\x00\x00\x7F\x7F\x7F\x7F"s), read_mp3_info_tag));
    EXPECT_FALSE(with_source(bytes_of(""), read_mp3_info_tag));
}

// --- MP4 ---

TEST(Mp4Box, FindsTheBoxThatRunsPastTheEnd) {
    const std::string ftyp = be32(16) + "ftypM4A " + be32(0);
    const std::string mdat = be32(1000) + "mdat" + std::string(100, '\0');
    const auto box = with_source(bytes_of(ftyp + mdat), find_mp4_box_past_end);
    ASSERT_TRUE(box);
    EXPECT_EQ(box->type, "mdat");
    EXPECT_EQ(box->offset, 16u);
    EXPECT_EQ(box->declared_bytes, 1000u);
}

TEST(Mp4Box, ReadsLargeSizes) {
    const std::string mdat = be32(1) + "mdat" + be32(1) + be32(0) + std::string(10, '\0');
    const auto box = with_source(bytes_of(mdat), find_mp4_box_past_end);
    ASSERT_TRUE(box);
    EXPECT_EQ(box->declared_bytes, 0x1'0000'0000u);
}

TEST(Mp4Box, WholeFilesAndNonBoxesAreNone) {
    const std::string ftyp = be32(16) + "ftypM4A " + be32(0);
    EXPECT_FALSE(with_source(bytes_of(ftyp + be32(8) + "free"), find_mp4_box_past_end));
    EXPECT_FALSE(with_source(bytes_of(ftyp + be32(0) + "mdat" + "abc"), find_mp4_box_past_end));
    EXPECT_FALSE(
        with_source(bytes_of(ftyp + be32(9999) + "\x01\x02\x03\x04"s), find_mp4_box_past_end));
    EXPECT_FALSE(with_source(bytes_of(be32(4) + "free"), find_mp4_box_past_end));
}

// --- EBML ---

TEST(EbmlDoctype, ReadsWebmAndMatroska) {
    // EBMLVersion 1, then DocType; the header's size is a one-byte vint.
    const auto header = [](const std::string& doctype) {
        const std::string body =
            "\x42\x86\x81\x01"s + "\x42\x82"s + static_cast<char>(0x80 | doctype.size()) + doctype;
        return "\x1A\x45\xDF\xA3"s + static_cast<char>(0x80 | body.size()) + body;
    };
    EXPECT_EQ(with_source(bytes_of(header("webm")), read_ebml_doctype), "webm");
    EXPECT_EQ(with_source(bytes_of(header("matroska")), read_ebml_doctype), "matroska");
    EXPECT_EQ(with_source(bytes_of("\x1A\x45\xDF\xA3\x84\x42\x82\x88x"s), read_ebml_doctype), "");
    EXPECT_EQ(with_source(bytes_of("RIFF"), read_ebml_doctype), "");
    // The header declares 1 byte; the DocType after it is not the header's (found by fuzzing:
    // this read past the end of the bytes read).
    EXPECT_EQ(with_source(bytes_of("\x1A\x45\xDF\xA3\x81\x42\x82\x84webm"s), read_ebml_doctype),
              "");
}

TEST(MatroskaLastTimestamp, IsTheLatestBlockOfTheLastCluster) {
    const std::string earlier = "\x1F\x43\xB6\x75\x88\xE7\x81\x01\xA3\x83\x81\x00\x05"s;
    // A live cluster of unknown size: Timestamp 100, SimpleBlocks at +10 and +20, a BlockGroup
    // at +30, and a block cut short by the end of the file.
    const std::string last = "\x1F\x43\xB6\x75\x01\xFF\xFF\xFF\xFF\xFF\xFF\xFF"s + "\xE7\x81\x64"s +
                             "\xA3\x84\x81\x00\x0A\x80"s + "\xA3\x84\x81\x00\x14\x80"s +
                             "\xA0\x86\xA1\x84\x81\x00\x1E\x00"s + "\xA3\x88\x81\x00\x28"s;
    const auto bytes = bytes_of("junk"s + earlier + last);
    EXPECT_EQ(
        with_source(bytes, [](ByteSource& s) { return read_matroska_last_timestamp(s, 1, 1024); }),
        130);
    EXPECT_EQ(
        with_source(bytes, [](ByteSource& s) { return read_matroska_last_timestamp(s, 0, 1024); }),
        130);
    EXPECT_EQ(
        with_source(bytes, [](ByteSource& s) { return read_matroska_last_timestamp(s, 2, 1024); }),
        std::nullopt);
    // A tail too short to hold the last cluster's start finds nothing there.
    EXPECT_EQ(
        with_source(bytes, [](ByteSource& s) { return read_matroska_last_timestamp(s, 1, 20); }),
        std::nullopt);
    // A cluster cut right after its ID gives way to the one before.
    const auto cut = bytes_of("junk"s + earlier + "\x1F\x43\xB6\x75"s);
    EXPECT_EQ(
        with_source(cut, [](ByteSource& s) { return read_matroska_last_timestamp(s, 1, 1024); }),
        1 + 5);
}

// --- FLAC and Ogg, from bytes made here ---

// An MSB-first CRC with no reflection and no final xor, bit by bit as the specs define
// them: FLAC's CRC-8 (0x07) and CRC-16 (0x8005) (RFC 9639 sections 9.1.8 and 9.3), Ogg's
// CRC-32 (0x04C11DB7, RFC 3533 section 6). An oracle apart from the code's own.
std::uint32_t crc(std::string_view bytes, int width, std::uint32_t poly) {
    const std::uint64_t top = std::uint64_t{1} << (width - 1);
    const std::uint64_t mask = (std::uint64_t{1} << width) - 1;
    std::uint64_t value = 0;
    for (const unsigned char c : bytes) {
        value ^= std::uint64_t{c} << (width - 8);
        for (int bit = 0; bit < 8; ++bit)
            value = ((value & top) ? value << 1 ^ poly : value << 1) & mask;
    }
    return static_cast<std::uint32_t>(value);
}

constexpr std::uint32_t kFlacBlock = 4096;

// "fLaC" and a STREAMINFO of 44.1 kHz mono 16-bit, blocks of 4096 samples.
std::string flac_head(std::uint64_t total_samples, bool streaminfo_is_last = true) {
    const std::uint64_t packed = std::uint64_t{44100} << 44 | std::uint64_t{0} << 41 |
                                 std::uint64_t{15} << 36 | total_samples;
    return "fLaC"s + static_cast<char>(streaminfo_is_last ? 0x80 : 0x00) + be24(34) +
           be16(kFlacBlock) + be16(kFlacBlock) + be24(0) + be24(0) + be64(packed) +
           std::string(16, '\0');
}

// FLAC's coded number (RFC 9639 section 9.1.5): UTF-8's scheme stretched to 36 bits.
std::string coded_number(std::uint64_t n) {
    if (n < 0x80) return {static_cast<char>(n)};
    int continuation = 1;
    while (n >> (6 + 5 * continuation)) ++continuation;
    std::string out(1, static_cast<char>((0xFF << (7 - continuation)) | (n >> (6 * continuation))));
    for (int i = continuation - 1; i >= 0; --i)
        out += static_cast<char>(0x80 | ((n >> (6 * i)) & 0x3F));
    return out;
}

// A frame of `block_size` samples of the stream flac_head describes: numbered `number` (the
// frame's for a fixed block size, its first sample's for a variable one), a stand-in
// subframe, both CRCs right. `rate_code` 0 takes the STREAMINFO's rate.
std::string flac_frame(std::uint64_t number, std::uint32_t block_size, bool variable = false,
                       unsigned rate_code = 0) {
    // Block size code 7: the size less one follows in 16 bits. Mono, sample size from
    // STREAMINFO.
    std::string frame = "\xFF"s + static_cast<char>(variable ? 0xF9 : 0xF8) +
                        static_cast<char>(0x70 | rate_code) + '\0' + coded_number(number) +
                        be16(block_size - 1);
    frame += static_cast<char>(crc(frame, 8, 0x07));
    frame += std::string(300, '\x11');
    frame += be16(crc(frame, 16, 0x8005));
    return frame;
}

template <class F>
auto with_flac(const std::string& bytes, F f) {
    return with_source(bytes_of(bytes), [&](ByteSource& source) {
        const auto info = read_flac_stream_info(source);
        EXPECT_TRUE(info);
        return info ? f(source, *info) : decltype(f(source, *info)){};
    });
}

std::optional<std::uint64_t> samples_present(const std::string& bytes,
                                             std::size_t tail_bytes = 64 * 1024) {
    return with_flac(bytes, [&](ByteSource& source, const FlacStreamInfo& info) {
        return read_flac_samples_present(source, info, tail_bytes);
    });
}

TEST(FlacStreamInfo, ReadsItAndFindsTheFramesAfterAnId3Tag) {
    const std::string id3 = "ID3\x04\x00\x00\x00\x00\x00\x05"s + "12345";
    const std::string padding = "\x81"s + be24(100) + std::string(100, '\0');
    const auto bytes = bytes_of(id3 + flac_head(123'456, false) + padding + flac_frame(0, 4096));
    const auto info = with_source(bytes, read_flac_stream_info);
    ASSERT_TRUE(info);
    EXPECT_EQ(info->frames_offset, 15u + 42 + 104);
    EXPECT_EQ(info->min_block_size, 4096u);
    EXPECT_EQ(info->max_block_size, 4096u);
    EXPECT_EQ(info->max_frame_bytes, 0u);
    EXPECT_EQ(info->sample_rate, 44100u);
    EXPECT_EQ(info->channels, 1);
    EXPECT_EQ(info->bits_per_sample, 16);
    EXPECT_EQ(info->total_samples, 123'456u);
}

TEST(FlacStreamInfo, MetadataCutShortPutsTheFramesPastTheEnd) {
    const std::string padding = "\x81"s + be24(100) + std::string(50, '\0');
    EXPECT_GT(with_source(bytes_of(flac_head(1000, false) + padding), read_flac_stream_info)
                  ->frames_offset,
              42u + 54);
    // Cut inside the next block's header.
    EXPECT_GT(with_source(bytes_of(flac_head(1000, false) + "\x81\x00"s), read_flac_stream_info)
                  ->frames_offset,
              42u + 2);
    EXPECT_EQ(samples_present(flac_head(1000, false) + padding), 0u);
}

TEST(FlacStreamInfo, OtherFilesAreNone) {
    EXPECT_FALSE(with_source(bytes_of("fLaC"), read_flac_stream_info));
    EXPECT_FALSE(with_source(bytes_of("OggS"s + std::string(60, '\0')), read_flac_stream_info));
    // STREAMINFO must come first.
    auto vorbis_comment_first = flac_head(1000);
    vorbis_comment_first[4] = '\x84';
    EXPECT_FALSE(with_source(bytes_of(vorbis_comment_first), read_flac_stream_info));
}

// Frames 0 to 2 of 4096 samples and a last of 1000: 13,288 samples.
std::string four_frames() {
    return flac_head(3 * kFlacBlock + 1000) + flac_frame(0, kFlacBlock) +
           flac_frame(1, kFlacBlock) + flac_frame(2, kFlacBlock) + flac_frame(3, 1000);
}

TEST(FlacSamplesPresent, AWholeLastFrameCountsItsBlock) {
    EXPECT_EQ(samples_present(four_frames()), 3 * kFlacBlock + 1000);
    // An ID3v1 tag after the last frame leaves it whole.
    EXPECT_EQ(samples_present(four_frames() + "TAG" + std::string(125, ' ')),
              3 * kFlacBlock + 1000);
}

TEST(FlacSamplesPresent, AFrameCutShortCountsUpToItsFirstSample) {
    const auto bytes = four_frames();
    EXPECT_EQ(samples_present(bytes.substr(0, bytes.size() - 1)), 3 * kFlacBlock);
    // Cut inside frame 2: frames 0 and 1 are whole.
    EXPECT_EQ(samples_present(bytes.substr(0, 42 + 2 * 310 + 100)), 2 * kFlacBlock);
    // Cut right after frame 1.
    EXPECT_EQ(samples_present(bytes.substr(0, 42 + 2 * 310)), 2 * kFlacBlock);
}

TEST(FlacSamplesPresent, VariableBlockSizesCountSamples) {
    const auto bytes = flac_head(100'000) + flac_frame(0, 1000, true) +
                       flac_frame(1000, 3000, true) + flac_frame(70'000, 2000, true);
    EXPECT_EQ(samples_present(bytes), 72'000u);
    // A coded number of 7 bytes (36 bits).
    const std::uint64_t far = (std::uint64_t{1} << 35) + 5;
    EXPECT_EQ(samples_present(flac_head(far + 10) + flac_frame(far, 10, true)), far + 10);
}

TEST(FlacSamplesPresent, HeadersOfAnotherStreamOrWithABadCrcAreNoFrames) {
    const auto two =
        flac_head(3 * kFlacBlock) + flac_frame(0, kFlacBlock) + flac_frame(1, kFlacBlock);
    // 48 kHz (rate code 10) in a 44.1 kHz stream.
    EXPECT_EQ(samples_present(two + flac_frame(2, kFlacBlock, false, 10)), 2 * kFlacBlock);
    auto bad_crc = flac_frame(2, kFlacBlock);
    bad_crc[7] ^= 1;  // the CRC-8 (header: 4 bytes, number 1, size 2)
    EXPECT_EQ(samples_present(two + bad_crc), 2 * kFlacBlock);
    // Blocks larger than STREAMINFO's largest.
    EXPECT_EQ(samples_present(two + flac_frame(2, kFlacBlock + 1)), 2 * kFlacBlock);
}

TEST(FlacSamplesPresent, OnlyTheTailIsSearched) {
    const auto bytes = four_frames() + std::string(5000, '\0');
    EXPECT_EQ(samples_present(bytes, 1000), std::nullopt);
    EXPECT_EQ(samples_present(bytes, 6000), 3 * kFlacBlock + 1000);
    // Nor are the metadata blocks taken for frames, however long the tail.
    EXPECT_EQ(samples_present(flac_head(1000) + "\x00\x00"s, 1 << 20), std::nullopt);
}

// An Ogg page of `body_bytes`, its CRC right.
std::string ogg_page(std::uint32_t serial, std::uint32_t sequence, std::int64_t granule,
                     std::uint8_t flags, std::size_t body_bytes) {
    std::string page = "OggS\0"s + static_cast<char>(flags) +
                       le64(static_cast<std::uint64_t>(granule)) + le32(serial) + le32(sequence) +
                       le32(0);
    page += static_cast<char>(body_bytes / 255 + 1);
    page += std::string(body_bytes / 255, '\xFF') + static_cast<char>(body_bytes % 255);
    page += std::string(body_bytes, 'x');
    return page.replace(22, 4, le32(crc(page, 32, 0x04C11DB7)));
}

constexpr std::uint8_t kBos = 0x02;
constexpr std::uint8_t kEos = 0x04;

std::vector<OggPage> last_pages(const std::string& bytes, std::size_t tail_bytes = 64 * 1024) {
    return with_source(bytes_of(bytes),
                       [&](ByteSource& s) { return read_ogg_last_pages(s, tail_bytes); });
}

TEST(OggLastPages, AStreamThatEndsHasItsFlag) {
    const auto head = ogg_page(7, 0, 0, kBos, 19) + ogg_page(7, 1, 0, 0, 60);
    const auto bytes = head + ogg_page(7, 2, 48000, 0, 3000) + ogg_page(7, 3, 60000, kEos, 500);
    const auto pages = last_pages(bytes);
    ASSERT_EQ(pages.size(), 1u);
    EXPECT_EQ(pages[0].serial, 7u);
    EXPECT_EQ(pages[0].sequence, 3u);
    EXPECT_EQ(pages[0].granule, 60000);
    EXPECT_TRUE(pages[0].end_of_stream);
    EXPECT_EQ(pages[0].offset, bytes.size() - (27 + 2 + 500));
    // Junk after the last page changes nothing.
    EXPECT_TRUE(last_pages(bytes + "TAG" + std::string(125, ' ')).at(0).end_of_stream);
}

TEST(OggLastPages, AStreamCutShortEndsOnAPageWithoutIt) {
    const auto bytes = ogg_page(7, 0, 0, kBos, 19) + ogg_page(7, 1, 48000, 0, 3000) +
                       ogg_page(7, 2, 60000, kEos, 500);
    const auto pages = last_pages(bytes.substr(0, bytes.size() - 1));
    ASSERT_EQ(pages.size(), 1u);
    EXPECT_EQ(pages[0].sequence, 1u);
    EXPECT_FALSE(pages[0].end_of_stream);
}

TEST(OggLastPages, EachStreamHasItsLastPage) {
    const auto bytes = ogg_page(1, 0, 0, kBos, 10) + ogg_page(2, 0, 0, kBos, 10) +
                       ogg_page(1, 1, 100, kEos, 10) + ogg_page(2, 1, 200, 0, 10) +
                       ogg_page(2, 2, 300, 0, 10);
    const auto pages = last_pages(bytes);
    ASSERT_EQ(pages.size(), 2u);
    EXPECT_EQ(pages[0].serial, 1u);
    EXPECT_TRUE(pages[0].end_of_stream);
    EXPECT_EQ(pages[1].serial, 2u);
    EXPECT_EQ(pages[1].sequence, 2u);
    EXPECT_FALSE(pages[1].end_of_stream);
}

TEST(OggLastPages, APageWithABadCrcIsNoPage) {
    auto last = ogg_page(7, 2, 60000, kEos, 100);
    last[40] ^= 1;
    const auto pages = last_pages(ogg_page(7, 1, 48000, 0, 100) + last);
    ASSERT_EQ(pages.size(), 1u);
    EXPECT_EQ(pages[0].sequence, 1u);
}

TEST(OggLastPages, OnlyTheTailIsRead) {
    const auto bytes = ogg_page(7, 0, 0, kBos, 19) + ogg_page(7, 1, 48000, 0, 3000) +
                       ogg_page(8, 0, 0, kBos | kEos, 10) + ogg_page(7, 2, 60000, kEos, 500);
    // The tail starts inside page 1 of stream 7.
    const auto pages = last_pages(bytes, 600);
    ASSERT_EQ(pages.size(), 2u);
    EXPECT_EQ(pages[0].serial, 8u);
    EXPECT_EQ(pages[1].serial, 7u);
    EXPECT_EQ(pages[1].sequence, 2u);
}

TEST(OggLastPages, CapturePatternsThatAreNoPagesFindNothing) {
    EXPECT_TRUE(last_pages("").empty());
    EXPECT_TRUE(last_pages("OggS").empty());
    // Capture patterns every 5 bytes, each declaring a long page: bounded work, no pages.
    std::string hostile;
    while (hostile.size() < 128 * 1024) hostile += "OggS\0"s;
    EXPECT_TRUE(last_pages(hostile, 128 * 1024).empty());
}

// --- sniffing ---

TEST(SniffNonMedia, NamesWellKnownFiles) {
    EXPECT_EQ(sniff_non_media(bytes_of("%PDF-1.4")), "a PDF document");
    EXPECT_EQ(sniff_non_media(bytes_of("PK\x03\x04rest")), "a ZIP archive");
    EXPECT_EQ(sniff_non_media(bytes_of("\x1f\x8b\x08")), "a gzip archive");
    EXPECT_EQ(sniff_non_media(bytes_of("\xEF\xBB\xBF <html>")), "an HTML page");
    EXPECT_EQ(sniff_non_media(bytes_of("<?xml version=\"1.0\"?>")), "an XML document");
    EXPECT_EQ(sniff_non_media(bytes_of(" {\"error\": \"nope\"}")), "JSON text");
    EXPECT_EQ(sniff_non_media(bytes_of("hello\r\n")), "plain text");
    EXPECT_EQ(sniff_non_media(bytes_of("\x01\x02\x03")), "");
    EXPECT_EQ(sniff_non_media(bytes_of("")), "");
}

}  // namespace
}  // namespace audiodrop::media
