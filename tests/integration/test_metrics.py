"""/metrics as a Prometheus operator scrapes it: after real traffic (an upload with its
audio probe, a refused request, a download), the exposition passes Prometheus's own
linter (`promtool check metrics`, Debian's prometheus package), and its counters say
what happened."""

import subprocess
import unittest

import harness
from audio_files import make_audio

PROMTOOL = "/usr/bin/promtool"


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server()
        cls.server.start()
        cls.api = harness.Api(cls.server)
        cls.token = cls.api.new_user(harness.create_partner(cls.server))

    @classmethod
    def tearDownClass(cls):
        cls.server.cleanup()

    def scrape(self):
        with harness.http_session() as http:
            resp = http.get(self.server.base_url + "/metrics", timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 200)
        self.assertTrue(resp.headers["Content-Type"].startswith("text/plain"))
        return resp.text

    def test_the_exposition_passes_promtool_and_counts_the_traffic(self):
        data = make_audio("mp3", 3)
        _, done = self.api.upload_file(self.token, data, "mp3")
        with harness.http_session() as http:
            self.assertEqual(http.get(done["DownloadUrl"], timeout=harness.TIMEOUT).content, data)
            refused = http.post(self.server.api_url + "/open/partner/files/upload/complete-upload",
                                json={}, timeout=harness.TIMEOUT)
        self.assertEqual(refused.status_code, 401)

        text = self.scrape()
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                              capture_output=True, timeout=60)
        self.assertEqual(lint.returncode, 0,
                         (lint.stdout + lint.stderr).decode(errors="replace"))

        self.assertEqual(harness.metric(self.server, "audiodrop_uploads_started_total"), 1)
        self.assertEqual(harness.metric(self.server, "audiodrop_uploads_completed_total"), 1)
        self.assertEqual(harness.metric(self.server, "audiodrop_probes_total"), 1)
        self.assertGreater(harness.metric(self.server, "audiodrop_probe_seconds_total"), 0)
        self.assertEqual(harness.metric(self.server, "audiodrop_download_bytes_sent_total"),
                         len(data))
        self.assertIn('audiodrop_http_requests_total{listener="api",code="4xx"} 1\n', text)


if __name__ == "__main__":
    harness.main()
