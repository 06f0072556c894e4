"""The demo page the server itself serves with --demo (<api origin>/demo/), in real
headless Chromium: a 20 s MP3 made with ffmpeg uploads, the page shows the server's
MD5, and its <audio> element plays the stored file from the storage listener (by Range
requests), with the duration ffprobe finds."""

import subprocess

import browser  # first: it puts tests/integration on the path
import audio_files  # noqa: E402
from harness import md5_hex  # noqa: E402

SECONDS = 20
DURATION_TOLERANCE = 0.1  # seconds between the browser's duration and ffprobe's


def ffprobe_duration(path):
    out = subprocess.run(["/usr/bin/ffprobe", "-v", "error", "-show_entries", "format=duration",
                          "-of", "default=noprint_wrappers=1:nokey=1", path],
                         check=True, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
    return float(out.stdout)


class DemoPage(browser.BrowserTestCase):
    serve_pages = False  # the server serves the page itself

    @classmethod
    def server_args(cls, page_origin):
        return ("--demo",)

    def test_the_demo_page_uploads_a_recording_and_plays_it_back(self):
        name = "sine-20s.mp3"
        data = audio_files.make_audio("mp3", SECONDS)
        path = browser.file_of(data, name)
        expected = ffprobe_duration(path)
        self.assertAlmostEqual(expected, SECONDS, delta=0.1)  # what ffmpeg was asked for
        page = f"{self.server.base_url}/demo/#token={self.user_token()}"
        got = browser.drive("demo", pageUrl=page, file=path, fileName=name,
                            screenshot=self.screenshot())
        self.assertEqual(got["state"], "done", f"{got.get('text')}\n{browser.summary(got)}")
        self.assertEqual(got["md5"], md5_hex(data))
        self.assertAlmostEqual(got["duration"], expected, delta=DURATION_TOLERANCE)
        object_path = browser.object_path(got["audioSrc"])
        gets = browser.wait_request_lines(self.server, 1, listener="storage", method="GET",
                                          path=object_path)
        self.assertIn("206", [line["status"] for line in gets], gets)
        self.assertEqual(got["pageErrors"], [])


if __name__ == "__main__":
    browser.main()
