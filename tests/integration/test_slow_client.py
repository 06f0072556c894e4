"""Slow and silent clients are cut off after the idle timeout, on both listeners, while
everyone else keeps being served."""

import time

import harness
from harness import CHUNK_SIZE, KiB

IDLE = 2  # --idle-timeout, seconds
# --request-timeout, seconds: far past every cut-off expected here, so that each one is
# the idle timeout's doing and nothing else's.
REQUEST = 60
CLOSE_WITHIN = 10  # generous bound for the cut-off on a loaded machine


class SlowClients(harness.ServerTestCase):
    server_args = ("--idle-timeout", str(IDLE), "--request-timeout", str(REQUEST))

    def assert_cut_off(self, conn, what, since):
        """`conn` is closed by the server within CLOSE_WITHIN s of `since` (its last
        activity, time.monotonic()), but not before about the idle timeout."""
        closed, _ = conn.wait_closed(max(0.1, since + CLOSE_WITHIN - time.monotonic()))
        self.assertIsNotNone(closed, f"{what}: still open {CLOSE_WITHIN}s after its last byte")
        quiet = time.monotonic() - since
        # Cut off by the timer, not refused on the spot.
        self.assertGreaterEqual(quiet, IDLE * 0.5, f"{what}: closed after only {quiet:.2f}s")

    def healthz_takes(self):
        start = time.monotonic()
        resp = self.api.http.get(self.server.base_url + "/healthz", timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 200)
        return time.monotonic() - start

    def test_silent_clients_are_disconnected_and_others_still_served(self):
        conns = []
        try:
            for i in range(20):
                url = self.server.base_url if i % 2 else self.server.storage_url
                conn = harness.RawHttp(url + "/healthz")
                if i % 4 == 0:
                    conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")  # never finished
                conns.append((conn, time.monotonic()))
            # Twenty stuck connections do not stop anyone else.
            self.assertLess(self.healthz_takes(), 1.5)
            token = self.user()
            self.assertEqual(self.api.generate(token, 10).status_code, 200)
            for i, (conn, since) in enumerate(conns):
                self.assert_cut_off(conn, f"silent connection {i}", since)
        finally:
            for conn, _ in conns:
                conn.close()

    def test_idle_keep_alive_connection_is_closed(self):
        with harness.RawHttp(self.server.base_url + "/healthz") as conn:
            conn.send_head("GET", {})
            status, _, _ = conn.read_response(timeout=10)
            self.assertEqual(status, 200)
            self.assert_cut_off(conn, "idle keep-alive connection", time.monotonic())

    def test_part_body_that_stops_midway_is_cut_off_and_not_kept(self):
        token = self.user()
        plan = self.api.start_upload(token, CHUNK_SIZE)
        with harness.RawHttp(plan["Parts"][0]["PresignedUrl"]) as conn:
            conn.send_head("PUT", {"Content-Length": str(CHUNK_SIZE)})
            conn.send(b"\0" * (256 * KiB))
            since = time.monotonic()
            self.assertLess(self.healthz_takes(), 1.5)
            self.assert_cut_off(conn, "stalled part upload", since)
        # Our own pooled keep-alive connections were idle as long: start afresh.
        self.api.http.close()
        harness.storage_session().close()
        listed = self.api.parts(token, plan["FileId"], plan["UploadId"])
        self.assertEqual(listed.status_code, 200, listed.text)
        self.assertEqual(listed.json()["Parts"], [], "a half-received part became visible")
        # The same URL still takes the whole part afterwards.
        data = harness.random_bytes(CHUNK_SIZE)
        resp = harness.put_part(plan["Parts"][0]["PresignedUrl"], data)
        self.assertEqual(resp.status_code, 200, resp.text)

    def test_header_dripped_byte_by_byte_is_cut_off(self):
        # Each byte is progress, so a per-read idle timer alone would never fire.
        with harness.RawHttp(self.server.base_url + "/healthz") as conn:
            conn.send(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n")
            start = time.monotonic()
            closed_after = None
            # A byte every 0.5 s at most is the slow client under test (not a wait for
            # a state); 60 rounds bound the drip at 30 s.
            for _ in range(60):
                try:
                    conn.send(b"X")
                except (BrokenPipeError, ConnectionResetError):
                    closed_after = time.monotonic() - start
                    break
                if conn.readable_within(0.5):
                    elapsed, _ = conn.wait_closed(2)
                    if elapsed is not None:
                        closed_after = time.monotonic() - start
                        break
            self.assertIsNotNone(closed_after, "a dripping client was never cut off")
            # The idle timeout is one deadline for the whole header, not per read: the
            # cut comes about IDLE s after the first byte, never on the spot, and long
            # before the request timeout could be the cause.
            self.assertGreaterEqual(closed_after, IDLE * 0.5)
            self.assertLess(closed_after, IDLE + CLOSE_WITHIN)

    def test_json_body_that_stops_midway_is_cut_off(self):
        token = self.user()
        with harness.RawHttp(self.server.api_url +
                             "/open/partner/files/upload/generate-presigned-urls") as conn:
            conn.send_head("POST", {"Authorization": f"Bearer {token}",
                                    "Content-Type": "application/json", "Content-Length": "100"})
            conn.send(b'{"filesize":')
            self.assert_cut_off(conn, "stalled JSON body", time.monotonic())


if __name__ == "__main__":
    harness.main()
