#include "media/container_headers.hpp"

#include <gtest/gtest.h>

#include <chrono>
#include <stdexcept>
#include <string>
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
