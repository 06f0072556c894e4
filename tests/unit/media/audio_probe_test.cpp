#include "media/audio_probe.hpp"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <tuple>
#include <utility>
#include <vector>

#include "conformance/temp_dir.hpp"
#include "read_at_fakes.hpp"

namespace audiodrop::media {
namespace {

using test::bytes_of;
using test::read_memory;

// Every fixture is made at test time by Debian's ffmpeg, from a sine tone.
constexpr const char* kFfmpeg = "/usr/bin/ffmpeg";
constexpr const char* kTone = "-f lavfi -i sine=frequency=440:duration=3.2";
constexpr const char* kTone48k = "-f lavfi -i sine=frequency=440:duration=3.2:sample_rate=48000";
constexpr std::int64_t kToneMs = 3200;
constexpr std::int64_t kDurationTolerance = 50;

// A file read through pread, as the stores read objects.
class FileBytes {
  public:
    explicit FileBytes(const std::string& path) : fd_(::open(path.c_str(), O_RDONLY | O_CLOEXEC)) {
        struct stat st {};
        if (fd_ >= 0 && ::fstat(fd_, &st) == 0) size_ = static_cast<std::uint64_t>(st.st_size);
    }
    ~FileBytes() {
        if (fd_ >= 0) ::close(fd_);
    }
    FileBytes(const FileBytes&) = delete;
    FileBytes& operator=(const FileBytes&) = delete;

    std::uint64_t size() const { return size_; }
    ReadAt reader() const {
        return [fd = fd_](std::uint64_t offset,
                          std::span<std::uint8_t> out) -> core::Result<std::size_t> {
            const auto n = ::pread(fd, out.data(), out.size(), static_cast<off_t>(offset));
            if (n < 0) {
                return core::make_error(core::ErrorKind::internal, "read_failed",
                                        std::strerror(errno));
            }
            return static_cast<std::size_t>(n);
        };
    }

  private:
    int fd_;
    std::uint64_t size_ = 0;
};

std::vector<std::uint8_t> read_whole(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

class AudioProbeTest : public ::testing::Test {
  protected:
    void SetUp() override {
        // Fail, not skip: without ffmpeg nothing here is tested.
        ASSERT_TRUE(std::filesystem::exists(kFfmpeg))
            << kFfmpeg << " is missing; install Debian's ffmpeg package to run the media tests";
    }

    // Runs ffmpeg: `input` then `args` then the output file, named `name` in the temp dir.
    std::string make(const std::string& name, const std::string& args,
                     const std::string& input = kTone) {
        const std::string out = dir_.file(name);
        const std::string command = std::string(kFfmpeg) + " -nostdin -v error -y " + input + " " +
                                    args + " '" + out + "' 2>&1";
        EXPECT_EQ(std::system(command.c_str()), 0) << command;
        EXPECT_TRUE(std::filesystem::exists(out)) << command;
        return out;
    }

    // Probes the file, or its first `cut_to` bytes.
    static ProbeOutcome probe_file(const std::string& path, std::string_view declared,
                                   std::optional<std::uint64_t> cut_to = std::nullopt,
                                   const ProbeLimits& limits = {}) {
        const FileBytes file(path);
        const std::uint64_t size = cut_to ? std::min(*cut_to, file.size()) : file.size();
        return probe_audio(size, file.reader(), declared, limits);
    }

    static std::uint64_t file_size(const std::string& path) {
        return std::filesystem::file_size(path);
    }

    test_support::TempDir dir_;
};

// --- intact files of every format: right facts, no problem ---

struct Intact {
    const char* name;
    const char* args;
    const char* input;
    const char* declared;
    const char* format;
    const char* codec;
    int sample_rate;
    int channels;
};

void PrintTo(const Intact& c, std::ostream* os) { *os << c.name; }

class IntactFileTest : public AudioProbeTest, public ::testing::WithParamInterface<Intact> {};

TEST_P(IntactFileTest, HasTheRightFactsAndNoProblem) {
    const Intact& c = GetParam();
    const auto path = make(c.name, c.args, c.input);
    const auto outcome = probe_file(path, c.declared);
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "");
    EXPECT_EQ(outcome.audio->format, c.format);
    EXPECT_EQ(outcome.audio->codec, c.codec);
    EXPECT_NEAR(outcome.audio->duration_ms, kToneMs, kDurationTolerance);
    EXPECT_EQ(outcome.audio->sample_rate, c.sample_rate);
    EXPECT_EQ(outcome.audio->channels, c.channels);
    EXPECT_GT(outcome.audio->bit_rate, 0);
    EXPECT_GT(outcome.bytes_read, 0u);
    EXPECT_FALSE(outcome.read_error);
}

INSTANTIATE_TEST_SUITE_P(
    EveryFormat, IntactFileTest,
    ::testing::Values(
        Intact{"a.mp3", "-c:a libmp3lame -b:a 64k", kTone, "mp3", "mp3", "mp3", 44100, 1},
        Intact{"stereo.mp3", "-c:a libmp3lame -ac 2 -ar 48000", kTone, "mp3", "mp3", "mp3", 48000,
               2},
        Intact{"moov-at-end.m4a", "-c:a aac -b:a 96k -ac 2", kTone, "m4a", "mp4", "aac", 44100, 2},
        Intact{"faststart.m4a", "-c:a aac -movflags +faststart", kTone, "m4a", "mp4", "aac", 44100,
               1},
        Intact{"a.wav", "-c:a pcm_s16le -ar 22050 -ac 2", kTone, "wav", "wav", "pcm_s16le", 22050,
               2},
        Intact{"a.opus", "-c:a libopus -b:a 32k", kTone48k, "opus", "ogg", "opus", 48000, 1},
        Intact{"a.flac", "-c:a flac", kTone, "flac", "flac", "flac", 44100, 1},
        Intact{"vorbis.ogg", "-c:a libvorbis", kTone, "ogg", "ogg", "vorbis", 44100, 1},
        Intact{"opus.webm", "-c:a libopus", kTone48k, "webm", "webm", "opus", 48000, 1},
        Intact{"opus-in.webm", "-c:a libopus", kTone48k, "opus", "webm", "opus", 48000, 1},
        // As browsers record: no duration in the header, clusters of unknown size.
        Intact{"live.webm", "-c:a libopus -f webm -live 1 -cluster_time_limit 500", kTone48k,
               "webm", "webm", "opus", 48000, 1},
        Intact{"adts.aac", "-c:a aac -f adts", kTone, "aac", "aac", "aac", 44100, 1},
        Intact{"alac.m4a", "-c:a alac", kTone, "m4a", "mp4", "alac", 44100, 1}),
    [](const auto& info) {
        std::string name = info.param.name;
        std::replace_if(
            name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
        return name;
    });

// Debian's ffmpeg has no AMR encoder: 25 frames of 12.2 kbit/s AMR-NB, all zeros (RFC 4867
// section 5: the "#!AMR\n" magic, then frames of a header byte and 31 bytes).
TEST_F(AudioProbeTest, AmrIsAmr) {
    std::string amr = "#!AMR\n";
    for (int i = 0; i < 25; ++i) amr += '\x3C' + std::string(31, '\0');
    const auto bytes = bytes_of(amr);
    const auto outcome = probe_audio(bytes.size(), read_memory(bytes), "amr");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "");
    EXPECT_EQ(outcome.audio->format, "amr");
    EXPECT_EQ(outcome.audio->codec, "amr_nb");
    EXPECT_EQ(outcome.audio->sample_rate, 8000);
    EXPECT_NEAR(outcome.audio->duration_ms, 500, kDurationTolerance);
}

TEST_F(AudioProbeTest, MatroskaThatIsNotWebmIsMatroska) {
    const auto outcome = probe_file(make("a.mka", "-c:a libopus", kTone48k), "webm");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.audio->format, "matroska");
    EXPECT_EQ(outcome.problem, "declared webm, found matroska audio (opus)");
}

TEST_F(AudioProbeTest, Mp3WithCoverArtIsNotVideo) {
    const auto png = make("cover.png", "-frames:v 1", "-f lavfi -i color=red:s=16x16");
    const auto mp3 = make("a.mp3", "-c:a libmp3lame");
    const auto outcome =
        probe_file(make("cover.mp3", "-map 0 -map 1 -c copy -disposition:v attached_pic",
                        "-i '" + mp3 + "' -i '" + png + "'"),
                   "mp3");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "");
    EXPECT_NEAR(outcome.audio->duration_ms, kToneMs, kDurationTolerance);
}

// --- reading little: seeking to an index at the end, and a 2 GiB wav ---

TEST_F(AudioProbeTest, M4aWithTheIndexAtTheEndIsReadBySeeking) {
    // Noise, so the encoder spends the whole bit rate: a file of more than 1.5 MB.
    const auto path =
        make("long.m4a", "-c:a aac -b:a 256k", "-f lavfi -i anoisesrc=duration=60:seed=1");
    // The moov box really is after the media data.
    const auto bytes = read_whole(path);
    const auto moov =
        std::search(bytes.begin(), bytes.end(), std::begin("moov"), std::begin("moov") + 4);
    ASSERT_NE(moov, bytes.end());
    ASSERT_GT(moov - bytes.begin(), static_cast<std::ptrdiff_t>(bytes.size() / 2));
    ASSERT_GT(bytes.size(), 1'500'000u);

    const auto outcome = probe_file(path, "m4a");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "");
    EXPECT_NEAR(outcome.audio->duration_ms, 60'000, kDurationTolerance);
    EXPECT_LT(outcome.bytes_read, bytes.size() / 4);
}

// A WAV header declaring 2 GiB of 16-bit stereo at 44.1 kHz, then zeros made on the fly.
class BigWav {
  public:
    static constexpr std::uint64_t kDataBytes = std::uint64_t{1} << 31;
    static constexpr std::uint64_t kSize = 44 + kDataBytes;

    BigWav() {
        const auto put32 = [this](std::size_t at, std::uint32_t v) {
            for (int i = 0; i < 4; ++i) header_[at + i] = static_cast<std::uint8_t>(v >> (8 * i));
        };
        const auto put16 = [this](std::size_t at, std::uint16_t v) {
            header_[at] = static_cast<std::uint8_t>(v);
            header_[at + 1] = static_cast<std::uint8_t>(v >> 8);
        };
        std::memcpy(&header_[0], "RIFF", 4);
        put32(4, static_cast<std::uint32_t>(36 + kDataBytes));
        std::memcpy(&header_[8], "WAVEfmt ", 8);
        put32(16, 16);
        put16(20, 1);  // PCM
        put16(22, 2);
        put32(24, 44100);
        put32(28, 44100 * 4);
        put16(32, 4);
        put16(34, 16);
        std::memcpy(&header_[36], "data", 4);
        put32(40, static_cast<std::uint32_t>(kDataBytes));
    }

    ReadAt reader() {
        return
            [this](std::uint64_t offset, std::span<std::uint8_t> out) -> core::Result<std::size_t> {
                if (offset >= kSize) return std::size_t{0};
                const auto n =
                    static_cast<std::size_t>(std::min<std::uint64_t>(out.size(), kSize - offset));
                for (std::size_t i = 0; i < n; ++i) {
                    const auto at = offset + i;
                    out[i] = at < header_.size() ? header_[at] : 0;
                }
                served_ += n;
                return n;
            };
    }
    std::uint64_t served() const { return served_; }

  private:
    std::array<std::uint8_t, 44> header_{};
    std::uint64_t served_ = 0;
};

TEST_F(AudioProbeTest, TwoGibibyteWavReadsOnlyAFewMebibytes) {
    BigWav wav;
    const auto outcome = probe_audio(BigWav::kSize, wav.reader(), "wav");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "");
    EXPECT_EQ(outcome.audio->codec, "pcm_s16le");
    EXPECT_EQ(outcome.audio->sample_rate, 44100);
    EXPECT_EQ(outcome.audio->channels, 2);
    EXPECT_NEAR(outcome.audio->duration_ms,
                static_cast<std::int64_t>(BigWav::kDataBytes * 1000 / (44100 * 4)),
                kDurationTolerance);
    EXPECT_LT(outcome.bytes_read, 4u << 20);
    EXPECT_EQ(outcome.bytes_read, wav.served());
}

// --- not audio ---

TEST_F(AudioProbeTest, PngNamedMp3IsAPngImage) {
    const auto path = make("x.png", "-frames:v 1", "-f lavfi -i color=red:s=16x16");
    const auto outcome = probe_file(path, "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem, "declared mp3, found a PNG image");
}

TEST_F(AudioProbeTest, VideoWithoutAudioSaysSo) {
    const auto path =
        make("v.mp4", "-c:v mpeg4", "-f lavfi -i testsrc=duration=1:size=64x64:rate=10");
    const auto outcome = probe_file(path, "m4a");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem, "declared m4a, found mp4 video (mpeg4) with no audio");
}

TEST_F(AudioProbeTest, VideoWithAudioIsAMismatch) {
    const auto path =
        make("av.mp4", "-c:v mpeg4 -c:a aac -shortest",
             "-f lavfi -i testsrc=duration=2:size=64x64:rate=10 " + std::string(kTone));
    const auto outcome = probe_file(path, "m4a");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem, "declared m4a, found mp4 video (mpeg4) with aac audio");
}

TEST_F(AudioProbeTest, RandomBytesAreNotAudio) {
    for (unsigned seed = 1; seed <= 8; ++seed) {
        std::mt19937 random(seed);
        std::vector<std::uint8_t> bytes(64 * 1024);
        for (auto& b : bytes) b = static_cast<std::uint8_t>(random());
        const auto outcome = probe_audio(bytes.size(), read_memory(bytes), "mp3");
        EXPECT_FALSE(outcome.audio) << "seed " << seed;
        EXPECT_TRUE(outcome.problem.starts_with("not decodable audio: ")) << outcome.problem;
    }
}

TEST_F(AudioProbeTest, UnknownBytesNameNothing) {
    std::vector<std::uint8_t> bytes(4096);
    std::mt19937 random(7);
    for (auto& b : bytes) b = static_cast<std::uint8_t>(random() | 0x80);
    bytes[0] = 0;  // not text
    const auto outcome = probe_audio(bytes.size(), read_memory(bytes), "wav");
    EXPECT_FALSE(outcome.audio);
    EXPECT_TRUE(outcome.problem.starts_with("not decodable audio: ")) << outcome.problem;
}

TEST_F(AudioProbeTest, WellKnownDocumentsAreNamed) {
    const auto pdf =
        bytes_of("%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n");
    EXPECT_EQ(probe_audio(pdf.size(), read_memory(pdf), "mp3").problem,
              "declared mp3, found a PDF document");
    const auto html = bytes_of("\n  <!DOCTYPE html><html><body>502 Bad Gateway</body></html>\n");
    EXPECT_EQ(probe_audio(html.size(), read_memory(html), "m4a").problem,
              "declared m4a, found an HTML page");
}

TEST_F(AudioProbeTest, EmptyFileIsNotAudio) {
    const std::vector<std::uint8_t> none;
    const auto outcome = probe_audio(0, read_memory(none), "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem, "not decodable audio: the file is empty");
    EXPECT_EQ(outcome.bytes_read, 0u);
}

// An HLS playlist naming a local file: libavformat must not open it.
TEST_F(AudioProbeTest, PlaylistsDoNotOpenOtherFiles) {
    const auto mp3 = make("a.mp3", "-c:a libmp3lame");
    const auto playlist = bytes_of("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXTINF:3.2,\nfile://" + mp3 +
                                   "\n#EXT-X-ENDLIST\n");
    const auto outcome = probe_audio(playlist.size(), read_memory(playlist), "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem,
              "declared mp3, found an HLS playlist, which refers to other files instead of "
              "holding audio");
    const auto concat = bytes_of("ffconcat version 1.0\nfile " + mp3 + "\n");
    EXPECT_FALSE(probe_audio(concat.size(), read_memory(concat), "mp3").audio);
}

// --- truncated files: audio facts, and the sentence ---

TEST_F(AudioProbeTest, Mp3CutInHalfIsTruncated) {
    const auto path = make("a.mp3", "-c:a libmp3lame -b:a 64k");
    const auto outcome = probe_file(path, "mp3", file_size(path) / 2);
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_TRUE(outcome.problem.starts_with("the file is truncated: its Info header declares"))
        << outcome.problem;
    EXPECT_NEAR(outcome.audio->duration_ms, kToneMs / 2, 150);
}

TEST_F(AudioProbeTest, WavCutInHalfIsTruncated) {
    const auto path = make("a.wav", "-c:a pcm_s16le");
    const auto outcome = probe_file(path, "wav", file_size(path) / 2);
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_TRUE(outcome.problem.starts_with("the file is truncated: its WAV data chunk declares"))
        << outcome.problem;
    EXPECT_NEAR(outcome.audio->duration_ms, kToneMs / 2, kDurationTolerance);
}

TEST_F(AudioProbeTest, FaststartM4aCutInHalfIsTruncated) {
    const auto path = make("a.m4a", "-c:a aac -movflags +faststart");
    const auto outcome = probe_file(path, "m4a", file_size(path) / 2);
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_TRUE(outcome.problem.starts_with("the file is truncated: its mp4 sample table"))
        << outcome.problem;
    EXPECT_NEAR(outcome.audio->duration_ms, kToneMs / 2, 200);
}

TEST_F(AudioProbeTest, M4aCutBeforeItsIndexIsTruncatedWithoutFacts) {
    const auto path = make("a.m4a", "-c:a aac");
    const auto outcome = probe_file(path, "m4a", file_size(path) / 2);
    EXPECT_FALSE(outcome.audio);
    EXPECT_TRUE(outcome.problem.starts_with("the file is truncated: its mp4 'mdat' box"))
        << outcome.problem;
}

TEST_F(AudioProbeTest, FilesCutAFewBytesShortAreTruncatedToo) {
    const auto wav = make("a.wav", "-c:a pcm_s16le");
    EXPECT_TRUE(
        probe_file(wav, "wav", file_size(wav) - 2).problem.starts_with("the file is truncated: "));
    const auto m4a = make("a.m4a", "-c:a aac -movflags +faststart");
    EXPECT_TRUE(
        probe_file(m4a, "m4a", file_size(m4a) - 10).problem.starts_with("the file is truncated: "));
}

// --- FLAC and Ogg: STREAMINFO's length, the end-of-stream page ---

// The audio ffmpeg's decoders get out of the first `cut_to` bytes of `path`, in ms: what a
// player would play of a file cut there.
std::int64_t decoded_ms(const test_support::TempDir& dir, const std::string& path,
                        std::uint64_t cut_to) {
    auto bytes = read_whole(path);
    bytes.resize(std::min<std::size_t>(bytes.size(), cut_to));
    const std::string cut = dir.file("cut-" + std::filesystem::path(path).filename().string());
    const std::string raw = dir.file("decoded.raw");
    std::ofstream(cut, std::ios::binary)
        .write(reinterpret_cast<const char*>(bytes.data()),
               static_cast<std::streamsize>(bytes.size()));
    // Decoding a cut file ends in an error; what was decoded by then is the answer.
    const std::string command = std::string(kFfmpeg) + " -nostdin -v quiet -y -i '" + cut +
                                "' -f s16le -ac 1 -ar 48000 '" + raw + "'";
    [[maybe_unused]] const int status = std::system(command.c_str());
    std::error_code error;
    const auto raw_bytes = std::filesystem::file_size(raw, error);
    if (error) return 0;  // not even an output file
    std::filesystem::remove(raw, error);
    return static_cast<std::int64_t>(raw_bytes / 96);  // 2 bytes a sample at 48 kHz
}

struct EndCheck {
    const char* name;  // the fixture, named for its container
    const char* args;
    int sample_rate;
    const char* declared;
    const char* format;
    const char* codec;
    const char* sentence;  // how the truncation sentence starts
};

constexpr const char* kFlacCut = "the file is truncated: its FLAC STREAMINFO declares ";
constexpr const char* kOggCut = "the file is truncated: the last Ogg page of stream ";

class EndCheckTest : public AudioProbeTest,
                     public ::testing::WithParamInterface<std::tuple<EndCheck, double>> {};

TEST_P(EndCheckTest, WholeFileIsWholeAndCutFileIsTruncated) {
    const auto& [c, seconds] = GetParam();
    const std::string tone = "-f lavfi -i sine=frequency=440:duration=" + std::to_string(seconds) +
                             ":sample_rate=" + std::to_string(c.sample_rate);
    const auto path = make(c.name, c.args, tone);
    const auto whole = probe_file(path, c.declared);
    ASSERT_TRUE(whole.audio) << whole.problem;
    EXPECT_EQ(whole.problem, "");
    EXPECT_EQ(whole.audio->format, c.format);
    EXPECT_EQ(whole.audio->codec, c.codec);
    EXPECT_NEAR(whole.audio->duration_ms, static_cast<std::int64_t>(seconds * 1000),
                kDurationTolerance);

    const std::uint64_t size = file_size(path);
    // In half, and a few KB short (a quarter short for a file of a few KB).
    for (const std::uint64_t cut : {size / 2, size - std::min<std::uint64_t>(3000, size / 4)}) {
        SCOPED_TRACE("cut to " + std::to_string(cut) + " of " + std::to_string(size) + " bytes");
        const auto outcome = probe_file(path, c.declared, cut);
        EXPECT_TRUE(outcome.problem.starts_with(c.sentence)) << outcome.problem;
        const std::int64_t present = decoded_ms(dir_, path, cut);
        if (present == 0) {
            EXPECT_FALSE(outcome.audio);  // cut before its first whole packet
        } else {
            ASSERT_TRUE(outcome.audio) << outcome.problem;
            EXPECT_NEAR(outcome.audio->duration_ms, present, 100);
        }
    }
}

INSTANTIATE_TEST_SUITE_P(
    FlacAndOgg, EndCheckTest,
    ::testing::Combine(
        ::testing::Values(
            EndCheck{"a.flac", "-c:a flac", 44100, "flac", "flac", "flac", kFlacCut},
            EndCheck{"a.opus", "-c:a libopus -b:a 32k", 48000, "opus", "ogg", "opus", kOggCut},
            EndCheck{"vorbis.ogg", "-c:a libvorbis", 44100, "ogg", "ogg", "vorbis", kOggCut},
            EndCheck{"flac.oga", "-c:a flac", 44100, "flac", "ogg", "flac", kOggCut}),
        ::testing::Values(0.3, 3.2, 20.0)),
    [](const auto& info) {
        std::string name = std::get<0>(info.param).name;
        name += "_" + std::to_string(static_cast<int>(std::get<1>(info.param) * 10)) + "ds";
        std::replace_if(
            name.begin(), name.end(), [](char c) { return !std::isalnum(c); }, '_');
        return name;
    });

TEST_F(AudioProbeTest, FlacAndOggCutAFewBytesShortAreTruncated) {
    const auto flac = make("a.flac", "-c:a flac");
    const auto flac_cut = probe_file(flac, "flac", file_size(flac) - 10);
    EXPECT_TRUE(flac_cut.problem.starts_with(kFlacCut)) << flac_cut.problem;
    ASSERT_TRUE(flac_cut.audio);
    // All but the last frame, whose CRC-16 is missing.
    EXPECT_NEAR(flac_cut.audio->duration_ms, kToneMs, 150);
    EXPECT_LT(flac_cut.audio->duration_ms, kToneMs);

    const auto opus = make("a.opus", "-c:a libopus", kTone48k);
    const auto opus_cut = probe_file(opus, "opus", file_size(opus) - 10);
    EXPECT_TRUE(opus_cut.problem.starts_with(kOggCut)) << opus_cut.problem;
}

// Taggers append ID3v1 and APE tags to any file; an Ogg file may carry junk past its end.
TEST_F(AudioProbeTest, TagsAfterTheLastFrameOrPageAreNoCut) {
    const auto tag = "TAG" + std::string(125, 'x');
    for (const auto& [path, declared] :
         {std::pair{make("a.flac", "-c:a flac"), "flac"},
          std::pair{make("a.opus", "-c:a libopus", kTone48k), "opus"},
          std::pair{make("a.ogg", "-c:a libvorbis"), "ogg"}}) {
        auto bytes = read_whole(path);
        bytes.insert(bytes.end(), tag.begin(), tag.end());
        const auto outcome = probe_audio(bytes.size(), read_memory(bytes), declared);
        ASSERT_TRUE(outcome.audio) << path << ": " << outcome.problem;
        EXPECT_EQ(outcome.problem, "") << path;
        EXPECT_NEAR(outcome.audio->duration_ms, kToneMs, kDurationTolerance) << path;
    }
}

// A FLAC writer that could not seek back leaves STREAMINFO's total samples 0: nothing to
// compare, so a cut goes unnoticed rather than a whole file being called cut.
TEST_F(AudioProbeTest, FlacThatDeclaresNoLengthIsNotJudged) {
    auto bytes = read_whole(make("a.flac", "-c:a flac"));
    ASSERT_EQ(std::string(bytes.begin(), bytes.begin() + 4), "fLaC");
    // STREAMINFO's last 36 bits before the MD5: bytes 8 + 13 (low nibble) to 8 + 17.
    bytes[21] &= 0xF0;
    std::fill(bytes.begin() + 22, bytes.begin() + 26, 0);
    for (const std::uint64_t size : {bytes.size(), bytes.size() / 2}) {
        const auto outcome = probe_audio(size, read_memory(bytes), "flac");
        ASSERT_TRUE(outcome.audio) << outcome.problem;
        EXPECT_EQ(outcome.problem, "");
    }
}

// --- declared filetype against what was found ---

TEST_F(AudioProbeTest, Mp3DeclaredM4aIsAMismatch) {
    const auto outcome = probe_file(make("a.mp3", "-c:a libmp3lame"), "m4a");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.audio->format, "mp3");
    EXPECT_EQ(outcome.problem, "declared m4a, found mp3 audio");
}

TEST_F(AudioProbeTest, RightContainerWrongCodecIsAMismatch) {
    const auto outcome = probe_file(make("mp3.mp4", "-c:a libmp3lame -f mp4"), "m4a");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem,
              "declared m4a, found mp4 audio (mp3); m4a accepts aac or alac audio");
}

TEST_F(AudioProbeTest, UnknownDeclaredFiletypeIsAProblem) {
    const auto outcome = probe_file(make("a.wav", "-c:a pcm_s16le"), "xyz\n");
    ASSERT_TRUE(outcome.audio) << outcome.problem;
    EXPECT_EQ(outcome.problem,
              "declared xyz?, which is not a filetype audiodrop accepts (mp3 m4a wav opus ogg aac "
              "flac amr webm)");
}

TEST(AcceptedContainers, CoverEveryDeclaredFiletype) {
    std::set<std::string_view> filetypes;
    for (const auto& row : accepted_containers()) {
        EXPECT_FALSE(row.formats.empty());
        EXPECT_FALSE(row.codecs.empty());
        EXPECT_TRUE(filetypes.insert(row.filetype).second) << row.filetype;
    }
    EXPECT_EQ(filetypes, (std::set<std::string_view>{"mp3", "m4a", "wav", "opus", "ogg", "aac",
                                                     "flac", "amr", "webm"}));
}

// --- the reader failing, and the limits ---

TEST_F(AudioProbeTest, ReadErrorsAreReportedAsTheStoresNotTheClients) {
    const auto path = make("a.mp3", "-c:a libmp3lame");
    const FileBytes file(path);
    const auto inner = file.reader();
    // Works for the first bytes, then the store goes away.
    const ReadAt failing = [&](std::uint64_t offset,
                               std::span<std::uint8_t> out) -> core::Result<std::size_t> {
        if (offset > 1000) {
            return core::make_error(core::ErrorKind::unavailable, "store_unavailable",
                                    "the object store did not answer");
        }
        return inner(offset, out.first(std::min<std::size_t>(out.size(), 100)));
    };
    const auto outcome = probe_audio(file.size(), failing, "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem,
              "could not read the file to probe it: the object store did not answer");
    ASSERT_TRUE(outcome.read_error);
    EXPECT_EQ(outcome.read_error->code, "store_unavailable");
}

TEST_F(AudioProbeTest, AReaderThatThrowsIsAReadError) {
    const ReadAt throwing = [](std::uint64_t,
                               std::span<std::uint8_t>) -> core::Result<std::size_t> {
        throw std::runtime_error("disk on fire");
    };
    const auto outcome = probe_audio(100'000, throwing, "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem, "could not read the file to probe it: reading threw: disk on fire");
    EXPECT_TRUE(outcome.read_error);
}

TEST_F(AudioProbeTest, AReaderThatClaimsTooMuchIsAReadError) {
    const ReadAt lying = [](std::uint64_t,
                            std::span<std::uint8_t> out) -> core::Result<std::size_t> {
        return out.size() + 1;
    };
    const auto outcome = probe_audio(100'000, lying, "mp3");
    EXPECT_FALSE(outcome.audio);
    EXPECT_TRUE(outcome.read_error);
    EXPECT_EQ(outcome.bytes_read, 0u);
}

TEST_F(AudioProbeTest, ReadBudgetEndsTheProbeWithAProblem) {
    const auto path = make("a.wav", "-c:a pcm_s16le");
    ProbeLimits limits;
    limits.max_bytes_read = 1000;
    const auto outcome = probe_file(path, "wav", std::nullopt, limits);
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem,
              "not decodable audio: probing read its budget of 1000 bytes without making sense of "
              "the container");
    EXPECT_EQ(outcome.bytes_read, 1000u);
    EXPECT_FALSE(outcome.read_error);
}

TEST_F(AudioProbeTest, DeadlineEndsASlowProbeInBoundedTime) {
    const auto path = make("a.flac", "-c:a flac");
    const FileBytes file(path);
    const auto inner = file.reader();
    const ReadAt slow = [&](std::uint64_t offset,
                            std::span<std::uint8_t> out) -> core::Result<std::size_t> {
        std::this_thread::sleep_for(std::chrono::milliseconds(100));
        return inner(offset, out.first(std::min<std::size_t>(out.size(), 512)));
    };
    ProbeLimits limits;
    limits.deadline = std::chrono::milliseconds(300);
    const auto start = std::chrono::steady_clock::now();
    const auto outcome = probe_audio(file.size(), slow, "flac", limits);
    const auto took = std::chrono::steady_clock::now() - start;
    EXPECT_LT(took, std::chrono::milliseconds(1000));
    EXPECT_FALSE(outcome.audio);
    EXPECT_EQ(outcome.problem, "could not probe the file within its deadline of 300 ms");
}

TEST_F(AudioProbeTest, ManyProbesAtOnceAgree) {
    const std::vector<std::pair<std::string, std::string>> files = {
        {make("a.mp3", "-c:a libmp3lame"), "mp3"},
        {make("a.m4a", "-c:a aac"), "m4a"},
        {make("a.flac", "-c:a flac"), "flac"},
        {make("a.opus", "-c:a libopus", kTone48k), "opus"},
    };
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 8; ++t) {
        threads.emplace_back([&, t] {
            for (int i = 0; i < 5; ++i) {
                const auto& [path, declared] =
                    files[static_cast<std::size_t>(t + i) % files.size()];
                const auto outcome = probe_file(path, declared);
                if (outcome.audio && outcome.problem.empty() &&
                    std::abs(outcome.audio->duration_ms - kToneMs) <= kDurationTolerance) {
                    ++good;
                }
            }
        });
    }
    for (auto& t : threads) t.join();
    EXPECT_EQ(good, 40);
}

}  // namespace
}  // namespace audiodrop::media
