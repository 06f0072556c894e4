"""Audio facts end to end: at complete-upload the server probes the stored bytes with
libavformat (--content-check, default record). Real recordings made on the spot with
ffmpeg (mp3, m4a with its index at the end and at the front, wav, opus in ogg, flac) show
their container, codec, duration, rate, channels and bit rate on GET file; a PNG, random
bytes, a truncated file and an mp3 declared as m4a show why they are not the declared
audio. With enforce such a complete is refused with 422 content_mismatch and the upload
stays open for the right bytes; with off nothing is probed. The complete answer keeps
exactly its four Plaud keys in every mode."""

import functools
import random

import harness
from audio_files import make_audio, make_png

PLAUD_COMPLETE_KEYS = {"FileId", "FileType", "DownloadUrl", "FileMd5"}
SECONDS = 3.2
AUDIO_KEYS = {"Format", "Codec", "DurationSeconds", "SampleRate", "Channels", "BitRate"}


@functools.lru_cache(maxsize=None)
def audio(filetype, seconds=SECONDS, sample_rate=44100, channels=1, extra=()):
    """make_audio, made once per process for each set of arguments."""
    return make_audio(filetype, seconds, sample_rate, channels, extra)


@functools.lru_cache(maxsize=None)
def png():
    return make_png()


def noise(n, seed=20240601):
    """`n` random-looking bytes, the same every run (so the probe's verdict is too)."""
    return random.Random(seed).randbytes(n)


FASTSTART = ("-movflags", "+faststart")


class AudioFactsCase(harness.ServerTestCase):
    def setUp(self):
        self.token = self.user()

    def upload(self, data, filetype):
        """Uploads `data` as `filetype` (complete must answer 200 with exactly the Plaud
        keys) and returns GET file's JSON."""
        plan, done = self.api.upload_file(self.token, data, filetype)
        self.assertEqual(set(done), PLAUD_COMPLETE_KEYS, done)
        self.assertEqual(done["FileId"], plan["FileId"])
        self.assertEqual(done["FileMd5"], harness.md5_hex(data))
        resp = self.api.get_file(self.token, plan["FileId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        return resp.json()


class RecordMode(AudioFactsCase):
    """The default, --content-check record."""

    def assert_facts(self, shown, fmt, codec, seconds, rate, channels):
        self.assertNotIn("AudioError", shown, shown)
        facts = shown.get("Audio")
        self.assertIsInstance(facts, dict, shown)
        self.assertEqual(set(facts), AUDIO_KEYS, facts)
        self.assertEqual(facts["Format"], fmt, facts)
        self.assertEqual(facts["Codec"], codec, facts)
        self.assertIsInstance(facts["DurationSeconds"], (int, float), facts)
        self.assertAlmostEqual(facts["DurationSeconds"], seconds, delta=0.05, msg=facts)
        # Millisecond precision.
        self.assertAlmostEqual(facts["DurationSeconds"] * 1000,
                               round(facts["DurationSeconds"] * 1000), places=6, msg=facts)
        self.assertEqual(facts["SampleRate"], rate, facts)
        self.assertEqual(facts["Channels"], channels, facts)
        self.assertIsInstance(facts["BitRate"], int, facts)
        self.assertFalse(isinstance(facts["BitRate"], bool), facts)
        self.assertGreater(facts["BitRate"], 0, facts)
        return facts

    def assert_bit_rate_near(self, facts, expected, rel=0.15):
        self.assertLessEqual(abs(facts["BitRate"] - expected), rel * expected,
                             f"BitRate {facts['BitRate']} is not within {rel:.0%} of {expected}")

    # 1. Real recordings ------------------------------------------------------------
    def test_mp3(self):
        facts = self.assert_facts(self.upload(audio("mp3"), "mp3"),
                                  "mp3", "mp3", SECONDS, 44100, 1)
        self.assert_bit_rate_near(facts, 64000)  # encoded at -b:a 64k

    def test_mp3_stereo_48khz(self):
        facts = self.assert_facts(self.upload(audio("mp3", SECONDS, 48000, 2), "mp3"),
                                  "mp3", "mp3", SECONDS, 48000, 2)
        self.assert_bit_rate_near(facts, 64000)

    def test_m4a_with_its_index_at_the_end(self):
        data = audio("m4a")
        self.assertGreater(data.find(b"moov"), data.find(b"mdat"), "moov not at the end")
        facts = self.assert_facts(self.upload(data, "m4a"), "mp4", "aac", SECONDS, 44100, 1)
        self.assert_bit_rate_near(facts, 64000)

    def test_m4a_faststart(self):
        data = audio("m4a", extra=FASTSTART)
        self.assertLess(data.find(b"moov"), data.find(b"mdat"), "moov not at the front")
        facts = self.assert_facts(self.upload(data, "m4a"), "mp4", "aac", SECONDS, 44100, 1)
        self.assert_bit_rate_near(facts, 64000)

    def test_wav(self):
        facts = self.assert_facts(self.upload(audio("wav"), "wav"),
                                  "wav", "pcm_s16le", SECONDS, 44100, 1)
        # 16-bit PCM, 44.1 kHz, mono: 705,600 bit/s of audio (plus a few header bytes if
        # the rate is the whole file's over its duration).
        self.assert_bit_rate_near(facts, 44100 * 16, rel=0.005)

    def test_wav_stereo_48khz(self):
        facts = self.assert_facts(self.upload(audio("wav", SECONDS, 48000, 2), "wav"),
                                  "wav", "pcm_s16le", SECONDS, 48000, 2)
        self.assert_bit_rate_near(facts, 48000 * 16 * 2, rel=0.005)

    def test_opus_in_ogg(self):
        facts = self.assert_facts(self.upload(audio("opus"), "opus"),
                                  "ogg", "opus", SECONDS, 48000, 1)
        self.assert_bit_rate_near(facts, 48000, rel=0.4)  # VBR around -b:a 48k + pages

    def test_flac(self):
        data = audio("flac")
        facts = self.assert_facts(self.upload(data, "flac"), "flac", "flac", SECONDS, 44100, 1)
        # Lossless VBR: the file's bits over its duration.
        self.assert_bit_rate_near(facts, len(data) * 8 / SECONDS, rel=0.05)

    def test_a_recording_in_two_parts(self):
        data = audio("wav", 64)  # 5.6 MB: two parts of the 5 MiB chunk size
        self.assertGreater(len(data), harness.CHUNK_SIZE)
        shown = self.upload(data, "wav")
        self.assertEqual(shown["PartCount"], 2, shown)
        self.assert_facts(shown, "wav", "pcm_s16le", 64, 44100, 1)

    # 2. What is not the declared audio ---------------------------------------------
    def test_a_png_declared_mp3(self):
        shown = self.upload(png(), "mp3")
        self.assertIn("Audio", shown)
        self.assertIsNone(shown["Audio"], shown)
        self.assertIn("PNG", shown.get("AudioError", ""), shown)

    def test_random_bytes_declared_wav(self):
        shown = self.upload(noise(40000), "wav")
        self.assertIn("Audio", shown)
        self.assertIsNone(shown["Audio"], shown)
        self.assertIsInstance(shown.get("AudioError"), str, shown)
        self.assertTrue(shown["AudioError"].strip(), shown)

    def test_an_mp3_cut_in_half(self):
        full = audio("mp3")
        shown = self.upload(full[:len(full) // 2], "mp3")
        self.assertIn("truncated", shown.get("AudioError", ""), shown)
        # The facts are of what is present: about half the recording.
        facts = shown.get("Audio")
        self.assertIsInstance(facts, dict, shown)
        self.assertEqual(facts["Format"], "mp3", facts)
        self.assertAlmostEqual(facts["DurationSeconds"], SECONDS / 2, delta=0.2, msg=facts)

    def test_an_m4a_cut_before_its_index(self):
        full = audio("m4a")
        shown = self.upload(full[:len(full) * 2 // 3], "m4a")  # the moov box is at the end
        self.assertIn("Audio", shown)
        self.assertIn("truncated", shown.get("AudioError", ""), shown)

    def test_a_wav_cut_short(self):
        full = audio("wav")
        shown = self.upload(full[:len(full) // 2], "wav")
        self.assertIn("truncated", shown.get("AudioError", ""), shown)
        facts = shown.get("Audio")
        self.assertIsInstance(facts, dict, shown)
        self.assertAlmostEqual(facts["DurationSeconds"], SECONDS / 2, delta=0.05, msg=facts)

    def test_a_flac_cut_in_half(self):
        # STREAMINFO declares 3.2 s of samples (as a WAV data chunk or an MP3 Info header
        # declares its length); the first half of the file holds about 1.25 s of frames
        # (after ffmpeg's 8 KiB padding block), then stops mid-frame.
        full = audio("flac")
        shown = self.upload(full[:len(full) // 2], "flac")
        self.assertIn("truncated", shown.get("AudioError", ""), shown)
        facts = shown.get("Audio")
        if facts is not None:  # of what is present, not what STREAMINFO declares
            self.assertLess(facts["DurationSeconds"], SECONDS * 0.75, facts)

    def test_an_mp3_declared_m4a(self):
        shown = self.upload(audio("mp3"), "m4a")
        error = shown.get("AudioError", "")
        self.assertIn("m4a", error, shown)
        self.assertIn("mp3", error, shown)
        facts = shown.get("Audio")
        self.assertIsInstance(facts, dict, shown)  # it is audio, just not the declared kind
        self.assertEqual((facts["Format"], facts["Codec"]), ("mp3", "mp3"), facts)


class EnforceMode(AudioFactsCase):
    server_args = ("--content-check", "enforce")

    def refused(self, plan, etags, filetype, needle):
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), filetype)
        body = harness.assert_api_error(resp, 422, "content_mismatch")
        self.assertIn(needle, body["error"]["message"], body)
        # On the embedded store the upload stays open, its parts still there.
        listed = self.api.parts(self.token, plan["FileId"], plan["UploadId"])
        self.assertEqual(listed.status_code, 200, listed.text)
        self.assertEqual({p["PartNumber"]: p["ETag"] for p in listed.json()["Parts"]}, etags)
        return body

    def test_a_png_is_refused_and_the_right_bytes_then_complete(self):
        mp3 = audio("mp3")
        fake = png()
        self.assertLess(len(fake), len(mp3))
        fake = fake + bytes(len(mp3) - len(fake))  # the declared filesize, PNG first
        plan = self.api.start_upload(self.token, len(mp3), "mp3")
        bad = harness.put_all_parts(plan, fake)
        body = self.refused(plan, bad, "mp3", "PNG")
        self.assertIn("mp3", body["error"]["message"], body)
        # Same presigned URLs, the real recording this time.
        good = harness.put_all_parts(plan, mp3)
        self.assertNotEqual(good, bad)
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(good), "mp3")
        self.assertEqual(resp.status_code, 200, resp.text)
        done = resp.json()
        self.assertEqual(set(done), PLAUD_COMPLETE_KEYS, done)
        self.assertEqual(done["FileMd5"], harness.md5_hex(mp3))
        self.assertTrue(harness.download(done["DownloadUrl"]).content == mp3)
        shown = self.api.get_file(self.token, plan["FileId"]).json()
        self.assertNotIn("AudioError", shown, shown)
        self.assertEqual(shown["Audio"]["Format"], "mp3", shown)
        self.assertAlmostEqual(shown["Audio"]["DurationSeconds"], SECONDS, delta=0.05)

    def test_a_truncated_mp3_is_refused(self):
        full = audio("mp3")
        half = full[:len(full) // 2]
        plan = self.api.start_upload(self.token, len(half), "mp3")
        etags = harness.put_all_parts(plan, half)
        self.refused(plan, etags, "mp3", "truncated")
        resp = self.api.abort(self.token, plan["FileId"], plan["UploadId"])
        self.assertIn(resp.status_code, (200, 204), resp.text)

    def test_an_mp3_declared_m4a_is_refused(self):
        data = audio("mp3")
        plan = self.api.start_upload(self.token, len(data), "m4a")
        etags = harness.put_all_parts(plan, data)
        self.refused(plan, etags, "m4a", "m4a")

    def test_a_good_file_completes(self):
        shown = self.upload(audio("m4a", extra=FASTSTART), "m4a")
        self.assertNotIn("AudioError", shown, shown)
        self.assertEqual(shown["Audio"]["Format"], "mp4", shown)
        self.assertEqual(shown["Audio"]["Codec"], "aac", shown)
        self.assertAlmostEqual(shown["Audio"]["DurationSeconds"], SECONDS, delta=0.05)

    def test_a_good_file_in_two_parts_completes(self):
        data = audio("wav", 64)
        shown = self.upload(data, "wav")
        self.assertEqual(shown["PartCount"], 2, shown)
        self.assertNotIn("AudioError", shown, shown)
        self.assertAlmostEqual(shown["Audio"]["DurationSeconds"], 64, delta=0.05)


class OffMode(AudioFactsCase):
    server_args = ("--content-check", "off")

    def test_no_audio_facts(self):
        shown = self.upload(audio("mp3"), "mp3")
        self.assertNotIn("Audio", shown, shown)
        self.assertNotIn("AudioError", shown, shown)

    def test_a_png_declared_mp3_completes_unjudged(self):
        shown = self.upload(png(), "mp3")
        self.assertNotIn("Audio", shown, shown)
        self.assertNotIn("AudioError", shown, shown)


if __name__ == "__main__":
    harness.main()
