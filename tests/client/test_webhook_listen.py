"""`audiodrop webhook listen` end to end: deliveries signed here, independently of the C++
code (hmac, hashlib, base64), with both schemes are answered 200 and printed as one JSON
line on stdout; a tampered, stale, half-signed or wrongly signed one gets 400, a reason on
stderr and nothing on stdout."""

import base64
import hashlib
import hmac
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
import unittest
import urllib.error
import urllib.request

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

TIMEOUT = 30  # seconds for anything to happen
SECRET = "whsec_" + base64.b64encode(bytes(range(32))).decode()
OTHER_SECRET = "whsec_" + base64.b64encode(bytes(range(100, 132))).decode()


def cli_binary():
    return harness.built_binary("AUDIODROP_CLI", "audiodrop")


def sign(secret, event_id, timestamp, body):
    """Both schemes' headers, computed from the documentation of each."""
    ts = str(timestamp)
    plaud = hmac.new(secret.encode(), ts.encode() + b"." + body, hashlib.sha256).hexdigest()
    key = base64.b64decode(secret[len("whsec_"):])
    standard = base64.b64encode(
        hmac.new(key, f"{event_id}.{ts}.".encode() + body, hashlib.sha256).digest()).decode()
    return {
        "Plaud-Timestamp": ts,
        "Plaud-Signature": "sha256=" + plaud,
        "webhook-id": event_id,
        "webhook-timestamp": ts,
        "webhook-signature": "v1," + standard,
    }


def lines_of(stream, into):
    for line in iter(stream.readline, ""):
        into.put(line.rstrip("\n"))
    into.put(None)


class WebhookListen(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.proc = subprocess.Popen(
            [cli_binary(), "webhook", "listen", "--port", "0", "--secret", SECRET],
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, encoding="utf-8")
        cls.stdout, cls.stderr = queue.Queue(), queue.Queue()
        for stream, into in ((cls.proc.stdout, cls.stdout), (cls.proc.stderr, cls.stderr)):
            threading.Thread(target=lines_of, args=(stream, into), daemon=True).start()
        first = cls.stderr.get(timeout=TIMEOUT)
        match = re.fullmatch(r"listening on http://127\.0\.0\.1:(\d+)", first or "")
        if not match:
            cls.proc.kill()
            raise AssertionError(f"no listening line, got {first!r}")
        cls.url = f"http://127.0.0.1:{match.group(1)}/webhooks/audiodrop"
        # Loopback only: never a proxy from the environment.
        cls.opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))

    @classmethod
    def tearDownClass(cls):
        cls.proc.send_signal(signal.SIGTERM)
        try:
            code = cls.proc.wait(timeout=TIMEOUT)
        finally:
            if cls.proc.poll() is None:
                cls.proc.kill()
                cls.proc.wait(timeout=TIMEOUT)
        if code != 0:
            raise AssertionError(f"the listener exited {code} on SIGTERM, not 0")

    def post(self, body, headers):
        request = urllib.request.Request(self.url, data=body, method="POST", headers={
            "Content-Type": "application/json", **headers})
        try:
            with self.opener.open(request, timeout=TIMEOUT) as response:
                return response.status, response.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def event(self, n):
        body = json.dumps({"id": f"evt_{n}", "type": "file.completed",
                           "data": {"FileId": "f" * 8, "name": "Grüße 🎙", "n": n}},
                          ensure_ascii=False, indent=2).encode()
        return body, sign(SECRET, f"evt_{n}", int(time.time()), body)

    def expect_printed(self, body):
        line = self.stdout.get(timeout=TIMEOUT)
        self.assertIsNotNone(line, "the listener's stdout ended")
        self.assertEqual(json.loads(line), json.loads(body))
        self.assertEqual(line, json.dumps(json.loads(body), ensure_ascii=False,
                                          separators=(",", ":")), "compact, keys in order")

    def expect_refused(self, body, headers, reason):
        status, text = self.post(body, headers)
        self.assertEqual(status, 400, text)
        self.assertIn(reason, text)
        self.assertEqual(text.count("\n"), 1, "one line")
        logged = self.stderr.get(timeout=TIMEOUT)
        self.assertIn(reason, logged or "")
        # Nothing on stdout: the next line there is the next good event's (the listener
        # answers in order, so a line for the refused one would come first).
        good, good_headers = self.event(999)
        self.assertEqual(self.post(good, good_headers)[0], 200)
        self.expect_printed(good)

    def test_a_signed_event_is_accepted_and_printed(self):
        body, headers = self.event(1)
        status, _ = self.post(body, headers)
        self.assertEqual(status, 200)
        self.expect_printed(body)

    def test_rotation_any_listed_signature_may_verify(self):
        body, headers = self.event(2)
        old = sign(OTHER_SECRET, "evt_2", int(headers["Plaud-Timestamp"]), body)
        headers["Plaud-Signature"] = old["Plaud-Signature"] + "," + headers["Plaud-Signature"]
        headers["webhook-signature"] = old["webhook-signature"] + " " + headers["webhook-signature"]
        self.assertEqual(self.post(body, headers)[0], 200)
        self.expect_printed(body)

    def test_a_tampered_body_is_refused(self):
        body, headers = self.event(3)
        self.expect_refused(body.replace(b"evt_3", b"evt_4"), headers, "Plaud signature")

    def test_a_bad_standard_signature_alone_is_refused(self):
        body, headers = self.event(5)
        headers["webhook-id"] = "evt_other"
        self.expect_refused(body, headers, "Standard Webhooks signature")

    def test_another_secret_is_refused(self):
        body, _ = self.event(6)
        self.expect_refused(body, sign(OTHER_SECRET, "evt_6", int(time.time()), body),
                            "Plaud signature")

    def test_a_stale_timestamp_is_refused(self):
        body, _ = self.event(7)
        self.expect_refused(body, sign(SECRET, "evt_7", int(time.time()) - 3600, body),
                            "tolerance")

    def test_missing_headers_are_refused(self):
        body, _ = self.event(8)
        self.expect_refused(body, {}, "Plaud-Timestamp header is missing")

    def test_a_signed_body_that_is_not_json_is_refused(self):
        body = b"not json"
        self.expect_refused(body, sign(SECRET, "evt_9", int(time.time()), body), "not JSON")

    def test_help_lists_the_options(self):
        proc = subprocess.run([cli_binary(), "webhook", "listen", "--help"], capture_output=True,
                              text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0)
        for option in ("--port", "--secret", "--host", "--tolerance"):
            self.assertIn(option, proc.stdout)

    def test_a_secret_that_is_not_whsec_is_a_usage_error(self):
        proc = subprocess.run([cli_binary(), "webhook", "listen", "--port", "0", "--secret",
                               "hunter2"], capture_output=True, text=True, timeout=TIMEOUT,
                              stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 2)
        self.assertIn("whsec_", proc.stderr)


if __name__ == "__main__":
    unittest.main(verbosity=2)
