"""Real audio made on the spot with Debian's ffmpeg, for the tests of audio facts."""

import os
import subprocess
import tempfile

# container/codec options per filetype; every file is a 440 Hz sine of the given length.
ENCODINGS = {
    "mp3": ["-c:a", "libmp3lame", "-b:a", "64k", "-f", "mp3"],
    "m4a": ["-c:a", "aac", "-b:a", "64k", "-f", "ipod"],  # moov at the end: ffmpeg's default
    "wav": ["-c:a", "pcm_s16le", "-f", "wav"],
    "opus": ["-c:a", "libopus", "-b:a", "48k", "-f", "ogg"],
    "flac": ["-c:a", "flac", "-f", "flac"],
}


def make_audio(filetype, seconds, sample_rate=44100, channels=1, extra=()):
    """The bytes of a `seconds` long recording encoded as `filetype`."""
    with tempfile.TemporaryDirectory(prefix="audiodrop-audio-") as d:
        path = os.path.join(d, "out." + filetype)
        rate = 48000 if filetype == "opus" else sample_rate
        subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
                        f"sine=frequency=440:sample_rate={rate}:duration={seconds}",
                        "-ac", str(channels), *ENCODINGS[filetype], *extra, path],
                       check=True, timeout=60)
        with open(path, "rb") as f:
            return f.read()


def make_png():
    """A small PNG image: not audio, whatever its name says."""
    with tempfile.TemporaryDirectory(prefix="audiodrop-png-") as d:
        path = os.path.join(d, "x.png")
        subprocess.run(["/usr/bin/ffmpeg", "-v", "error", "-nostdin", "-f", "lavfi", "-i",
                        "color=red:s=64x64", "-frames:v", "1", path], check=True, timeout=60)
        with open(path, "rb") as f:
            return f.read()
