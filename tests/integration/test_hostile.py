"""Hostile traffic against the real server: each test replays an attack and asserts the
bound that holds it (memory, CPU seconds, /healthz latency, status codes, bytes taken).

Clients that play strangers connect from other loopback addresses (127.0.0.2 and up),
so per-address limits can be told apart from the honest client on 127.0.0.1.
"""

import hashlib
import http.client
import json
import os
import re
import resource
import select
import socket
import subprocess
import threading
import time
import unittest
import urllib.parse
import uuid

import harness
from harness import MiB

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


# Process figures --------------------------------------------------------------------
def status_mib(server, field):
    """VmRSS or VmHWM (peak) of the server process, in MiB."""
    with open(f"/proc/{server.proc.pid}/status") as f:
        return int(re.search(field + r":\s+(\d+) kB", f.read()).group(1)) / 1024


def cpu_seconds(server):
    with open(f"/proc/{server.proc.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def log_lines(server, needle):
    with open(server.log_path, errors="replace") as f:
        return [line for line in f if needle in line]


# Clients ------------------------------------------------------------------------------
def connect_from(source, port, timeout=10):
    """A TCP connection to the server from loopback address `source`."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    sock.bind((source, 0))
    sock.connect(("127.0.0.1", port))
    return sock


def healthz_once(port, source="127.0.0.1"):
    """Seconds for one GET /healthz on a fresh connection; raises on anything but 200."""
    started = time.monotonic()
    status, _, _ = harness.request_from(source, port, "GET", "/healthz")
    if status != 200:
        raise AssertionError(f"/healthz answered {status}")
    return time.monotonic() - started


def send_until_answered(sock, head, filler, limit):
    """Sends `head`, then `filler` over and over until the server answers or closes, or
    `limit` bytes went; returns how many body bytes the kernel took from us."""
    sock.sendall(head)
    sent = 0
    sock.settimeout(5)
    while sent < limit:
        try:
            sent += sock.send(filler)
        except (BrokenPipeError, ConnectionResetError, socket.timeout):
            break
        readable, _, _ = select.select([sock], [], [], 0)
        if readable:
            break
    return sent


def read_answer(sock, timeout=15):
    """Everything the server sends until it closes (bounded): raw bytes."""
    deadline = time.monotonic() + timeout
    data = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(deadline - time.monotonic(), 0.01))
        try:
            chunk = sock.recv(65536)
        except (ConnectionResetError, socket.timeout):
            break
        if not chunk:
            break
        data += chunk
    return data


def statuses_in(raw):
    return [int(m) for m in re.findall(rb"HTTP/1\.1 (\d{3}) ", raw)]


# Request bodies -------------------------------------------------------------------------
class UnboundedBodies(harness.ServerTestCase):
    def test_an_endless_chunk_extension_is_refused_within_a_bounded_buffer(self):
        # The attack: a chunk-size line whose extension never ends, on two connections.
        head = (f"POST {self.server.base_path}/oauth/partner/access-token/refresh HTTP/1.1\r\n"
                "Host: x\r\nTransfer-Encoding: chunked\r\n\r\n1;").encode()
        rss_before = status_mib(self.server, "VmRSS")
        hwm_before = status_mib(self.server, "VmHWM")
        results = [None, None]

        def attack(i):
            with connect_from("127.0.0.2", self.server.port) as sock:
                sent = send_until_answered(sock, head, b"a" * MiB, limit=256 * MiB)
                results[i] = (sent, read_answer(sock))

        threads = [threading.Thread(target=attack, args=(i,)) for i in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=120)
        for sent, answer in results:
            self.assertEqual(statuses_in(answer), [400], answer[:300])
            self.assertIn(b'"code":"malformed_body"', answer)
            # The line may grow to the 128 KiB + header-limit buffer; after the answer
            # the server drains at most 16 MiB for 2 s; the rest is kernel buffers.
            self.assertLess(sent, 48 * MiB)
        self.assertLess(status_mib(self.server, "VmHWM") - max(hwm_before, rss_before), 32)

    def test_deeply_nested_json_is_refused_before_it_is_built(self):
        partner_token = self.api.partner_tokens(self.partner)["access_token"]
        body = b'{"user_id":' + b"[" * (MiB - 20) + b"}"
        hwm_before = status_mib(self.server, "VmHWM")
        answers = []

        def send():
            with harness.http_session() as http:
                resp = http.post(self.server.api_url + "/open/partner/users/access-token",
                                 data=body, timeout=harness.TIMEOUT,
                                 headers={"Authorization": "Bearer " + partner_token,
                                          "Content-Type": "application/json"})
                answers.append((resp.status_code, resp.json()["error"]["code"]))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=60)
        self.assertEqual(answers, [(400, "invalid_json")] * 4)
        # Four 1 MiB bodies in flight; before the depth limit they took ~300 MiB.
        self.assertLess(status_mib(self.server, "VmHWM") - hwm_before, 24)

    def test_a_refresh_body_larger_than_any_token_is_not_read(self):
        with harness.RawHttp(self.server.api_url + "/oauth/partner/access-token/refresh") as raw:
            raw.send_head("POST", {"Content-Type": "application/json",
                                   "Content-Length": str(MiB)})
            status, _, body = raw.read_response()
            self.assertEqual(status, 413, body)
            self.assertEqual(json.loads(body)["error"]["code"], "body_too_large")

    def test_a_json_route_checks_the_token_before_it_reads_the_body(self):
        with harness.RawHttp(self.server.api_url
                             + "/open/partner/files/upload/generate-presigned-urls") as raw:
            # A body is promised and never sent: the answer cannot wait for it.
            raw.send_head("POST", {"Content-Type": "application/json",
                                   "Content-Length": str(MiB)})
            status, _, body = raw.read_response(timeout=5)
            self.assertEqual(status, 401, body)

    def test_json_routes_answer_expect_100_continue(self):
        partner_token = self.api.partner_tokens(self.partner)["access_token"]
        body = json.dumps({"user_id": "user-000001"}).encode()
        with harness.RawHttp(self.server.api_url + "/open/partner/users/access-token") as raw:
            raw.send_head("POST", {"Authorization": "Bearer " + partner_token,
                                   "Content-Type": "application/json",
                                   "Content-Length": str(len(body)),
                                   "Expect": "100-continue"})
            status, _, _ = raw.read_response(timeout=5)
            self.assertEqual(status, 100)
            raw.send(body)
            status, _, answer = raw.read_response()
            self.assertEqual(status, 200, answer)
            self.assertIn("access_token", json.loads(answer))


# Framing ---------------------------------------------------------------------------------
class Smuggling(harness.ServerTestCase):
    SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"

    def framed(self, fields, port=None, path=None):
        """Sends a request framed by `fields` whose body is a second request; returns
        (statuses of everything answered, the answer) once the server has closed."""
        path = path or self.server.base_path + "/oauth/partner/access-token/refresh"
        head = f"POST {path} HTTP/1.1\r\nHost: x\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in fields) + "\r\n"
        with connect_from("127.0.0.1", port or self.server.port) as sock:
            sock.sendall(head.encode() + self.SMUGGLED)
            answer = read_answer(sock)
        return statuses_in(answer), answer

    def test_transfer_codings_other_than_chunked_alone_are_refused_and_close(self):
        cases = [
            ([("Transfer-Encoding", "gzip")], 400, b"bad_transfer_encoding"),
            ([("Transfer-Encoding", "chunked, gzip")], 400, b"bad_transfer_encoding"),
            ([("Transfer-Encoding", "identity")], 400, b"bad_transfer_encoding"),
            ([("Transfer-Encoding", "gzip, chunked")], 501, b"unsupported_transfer_encoding"),
            ([("Transfer-Encoding", "gzip"), ("Transfer-Encoding", "chunked")], 501,
             b"unsupported_transfer_encoding"),
            ([("Transfer-Encoding", "gzip"), ("Content-Length", "5")], 400,
             b"bad_transfer_encoding"),
            # The parser itself refuses these two orders of both framings.
            ([("Content-Length", "5"), ("Transfer-Encoding", "chunked")], 400,
             b"malformed_request"),
            ([("Transfer-Encoding", "chunked"), ("Content-Length", "5")], 400,
             b"malformed_request"),
        ]
        for fields, status, code in cases:
            with self.subTest(fields=fields):
                statuses, answer = self.framed(fields)
                # One answer, and the smuggled request is never served.
                self.assertEqual(statuses, [status], answer[:400])
                self.assertIn(code, answer)
                self.assertIn(b"Connection: close", answer)

    def test_the_storage_listener_refuses_them_too_in_s3_xml(self):
        statuses, answer = self.framed([("Transfer-Encoding", "gzip")],
                                       port=self.server.storage_port, path="/audiodrop/k")
        self.assertEqual(statuses, [400], answer[:400])
        self.assertIn(b"<Code>InvalidRequest</Code>", answer)
        self.assertIn(b"(bad_transfer_encoding)</Message>", answer)


# Tokens ------------------------------------------------------------------------------------
PER_ADDRESS = 20
PER_CLIENT = 4


class TokenFloods(harness.ServerTestCase):
    server_args = ("--token-requests-per-minute-per-address", PER_ADDRESS)
    server_kwargs = {"token_rpm": PER_CLIENT}

    def test_random_client_ids_share_their_address_limit_and_cost_no_argon2(self):
        flood = 8 * PER_ADDRESS
        statuses = []
        lock = threading.Lock()
        cpu_before = cpu_seconds(self.server)

        def sender(count):
            for _ in range(count):
                client_id = "pc_" + uuid.uuid4().hex[:26]
                status, _, _ = harness.token_request_from("127.0.0.3", self.server, client_id,
                                                          "sk_x")
                with lock:
                    statuses.append(status)

        with harness.HealthzWatch(self.server) as healthz:
            threads = [threading.Thread(target=sender, args=(flood // 8,)) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=120)
        cpu = cpu_seconds(self.server) - cpu_before
        self.assertEqual(statuses.count(401), PER_ADDRESS)
        self.assertEqual(statuses.count(429), flood - PER_ADDRESS)
        # Argon2 ran for the first PER_ADDRESS only (~30-60 ms of CPU each); all 160
        # would have cost several seconds.
        self.assertLess(cpu, 0.1 * flood / 2, f"{cpu:.2f} CPU s for {flood} requests")
        self.assertEqual(healthz.bad, [])
        self.assertLess(healthz.median_ms(), 25, f"/healthz median {healthz.median_ms():.1f} ms")

    def test_a_stranger_guessing_secrets_cannot_lock_the_partner_out(self):
        cred = harness.create_partner(self.server)
        guesses = [harness.token_request_from("127.0.0.4", self.server, cred["client_id"],
                                              "sk_guess")
                   for _ in range(PER_ADDRESS + 5)]
        self.assertEqual([s for s, _, _ in guesses],
                         [401] * PER_ADDRESS + [429] * 5)
        self.assertIn("address", guesses[-1][1]["error"]["message"])
        self.assertTrue(guesses[-1][2].get("Retry-After"))
        # The partner, on its own address, has all of its allowance...
        for _ in range(PER_CLIENT):
            status, body, _ = harness.token_request_from("127.0.0.5", self.server,
                                                         cred["client_id"], cred["secret_key"])
            self.assertEqual(status, 200, body)
        # ...and no more, wherever it asks from.
        status, body, _ = harness.token_request_from("127.0.0.6", self.server,
                                                     cred["client_id"], cred["secret_key"])
        self.assertEqual(status, 429, body)
        self.assertIn("client_id", body["error"]["message"])


# Connections ---------------------------------------------------------------------------------
class HeldConnections(unittest.TestCase):
    """Holding connections open from a source address, and reading a refusal."""

    def hold(self, count, source, port):
        """`count` connections from `source`, each shown to be served by a /healthz."""
        held = []
        for _ in range(count):
            sock = connect_from(source, port)
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while b"\r\n\r\n" not in answer or not answer.endswith(b"}"):
                chunk = sock.recv(4096)
                self.assertTrue(chunk, "connection closed while held")
                answer += chunk
            self.assertEqual(statuses_in(answer), [200])
            held.append(sock)
        return held

    def refused(self, source, port):
        with connect_from(source, port) as sock:
            return read_answer(sock, timeout=10)


class ConnectionCaps(HeldConnections):

    def test_one_address_cannot_take_every_connection(self):
        with harness.Server("--max-connections-per-address", 8) as server:
            held = self.hold(8, "127.0.0.2", server.port)
            try:
                for _ in range(3):
                    answer = self.refused("127.0.0.2", server.port)
                    self.assertEqual(statuses_in(answer), [429], answer[:300])
                    self.assertIn(b"too_many_connections", answer)
                    self.assertIn(b"Retry-After: 1", answer)
                # Others are served meanwhile, on both listeners.
                healthz_once(server.port, "127.0.0.1")
                answer = self.refused("127.0.0.2", server.storage_port)
                self.assertEqual(statuses_in(answer), [429], answer[:300])
                self.assertIn(b"<Code>SlowDown</Code>", answer)
            finally:
                for sock in held:
                    sock.close()
            # Places come back as connections close.
            harness.wait_for(lambda: self._served_from("127.0.0.2", server.port), timeout=10,
                             what="a place for 127.0.0.2 again")

    def _served_from(self, source, port):
        try:
            healthz_once(port, source)
            return True
        except (OSError, AssertionError, http.client.HTTPException):
            return False

    def test_the_server_wide_cap_answers_503(self):
        with harness.Server("--max-connections", 6) as server:
            held = self.hold(6, "127.0.0.1", server.port)
            try:
                answer = self.refused("127.0.0.3", server.port)
                self.assertEqual(statuses_in(answer), [503], answer[:300])
                self.assertIn(b"too_many_connections", answer)
            finally:
                for sock in held:
                    sock.close()
            harness.wait_for(lambda: self._served_from("127.0.0.3", server.port), timeout=10,
                             what="a place again")

    def test_running_out_of_descriptors_backs_off_instead_of_spinning(self):
        # No cap of our own in the way: the process limit is what runs out.
        with harness.Server("--max-connections", 100000) as server:
            resource.prlimit(server.proc.pid, resource.RLIMIT_NOFILE, (64, 64))
            before_lines = len(log_lines(server, "accept failed"))
            idle = []
            try:
                for _ in range(80):
                    idle.append(connect_from("127.0.0.2", server.port))
                # Let the accept loop meet EMFILE for a while.
                harness.wait_for(lambda: len(log_lines(server, "accept failed")) > before_lines,
                                 timeout=10, what="the first accept failure")
                cpu_before = cpu_seconds(server)
                time.sleep(2)  # the observation window, not synchronisation
                cpu = cpu_seconds(server) - cpu_before
                lines = len(log_lines(server, "accept failed")) - before_lines
            finally:
                for sock in idle:
                    sock.close()
            # Before: 87,451 lines in 2 s and a core spinning.
            self.assertLess(cpu, 0.3, f"{cpu:.2f} CPU s in 2 s out of descriptors")
            self.assertLessEqual(lines, 4)
            harness.wait_for(lambda: self._served_from("127.0.0.1", server.port), timeout=15,
                             what="/healthz once descriptors are free")


# Per-partner limits ------------------------------------------------------------------------------
class BehindALoadBalancer(HeldConnections):
    """A load balancer at 127.0.0.9 (--trusted-proxies) carries many clients: its
    connections are not capped per address, and a token request through it counts
    against the client it names in X-Forwarded-For. Anyone else's header is ignored."""

    LB = "127.0.0.9"

    def token_request(self, server, source, forwarded_for):
        return harness.request_from(source, server.port, "POST",
                                    server.base_path + "/oauth/partner/access-token",
                                    {"Authorization": harness.basic_auth("pc_nobody", "sk_guess"),
                                     "X-Forwarded-For": forwarded_for})[0]

    def test_limits_count_the_client_behind_a_trusted_proxy(self):
        with harness.Server("--trusted-proxies", f"{self.LB}/32",
                            "--token-requests-per-minute-per-address", 2,
                            "--max-connections-per-address", 2) as server:
            # The client's own first entry is a lie; the proxy appended the truth.
            client = "198.51.100.1, 203.0.113.9"
            statuses = [self.token_request(server, self.LB, client) for _ in range(3)]
            self.assertEqual(statuses, [401, 401, 429])
            # Another client behind the same proxy has an allowance of its own.
            self.assertEqual(self.token_request(server, self.LB, "203.0.113.10"), 401)
            # A client that is not a trusted proxy cannot pick the address it is counted
            # under: its header is ignored, and it counts as itself.
            sneaky = "127.0.0.10"
            statuses = [self.token_request(server, sneaky, f"203.0.113.{i}") for i in range(3)]
            self.assertEqual(statuses, [401, 401, 429])
            # The proxy holds more connections than one address may; others may not.
            held = self.hold(4, self.LB, server.port) + self.hold(2, sneaky, server.port)
            try:
                answer = self.refused(sneaky, server.port)
                self.assertEqual(statuses_in(answer), [429], answer[:300])
            finally:
                for sock in held:
                    sock.close()
            # The request log names the client, not the proxy.
            harness.wait_for(lambda: {"203.0.113.9", "203.0.113.10"} <= self.logged_remotes(server),
                             timeout=10, what="the clients behind the proxy in the request log")
            self.assertNotIn(self.LB, self.logged_remotes(server))

    @staticmethod
    def logged_remotes(server):
        with open(server.log_path, "rb") as f:
            lines = f.read().decode(errors="replace").splitlines()
        return {harness.log_fields(line).get("remote") for line in lines
                if "/access-token" in line}

    def test_a_malformed_trusted_proxy_list_is_refused_at_start(self):
        proc = subprocess.run([harness.server_binary(), "serve", "--trusted-proxies",
                               "10.0.0.0/8,lb.internal", "--data-dir", "/nonexistent"],
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"lb.internal", proc.stderr)


class PartnerLimits(harness.ServerTestCase):
    server_args = ("--max-open-uploads-per-partner", 3, "--max-open-bytes-per-partner", 40 * MiB)

    def test_a_partner_cannot_mint_users_past_its_open_upload_limit(self):
        partner = harness.create_partner(self.server)
        users = [self.api.new_user(partner, f"user-{i:06d}") for i in range(4)]
        plans = [self.api.start_upload(token, MiB) for token in users[:3]]
        refused = self.api.generate(users[3], MiB)
        body = harness.assert_api_error(refused, 429, "partner_upload_quota")
        self.assertEqual(refused.headers.get("Retry-After"), "60", body)
        # Another partner is not held back by this one.
        self.assertEqual(self.api.generate(self.user(), MiB).status_code, 200)
        # An upload that ends frees its place.
        first = plans[0]
        self.assertEqual(self.api.abort(users[0], first["FileId"], first["UploadId"]).status_code,
                         200)
        self.assertEqual(self.api.generate(users[3], MiB).status_code, 200)

    def test_a_partner_cannot_declare_more_bytes_in_flight_than_its_limit(self):
        partner = harness.create_partner(self.server)
        token = self.api.new_user(partner)
        self.api.start_upload(token, 30 * MiB)
        harness.assert_api_error(self.api.generate(token, 11 * MiB), 429, "partner_bytes_quota")
        self.assertEqual(self.api.generate(token, 10 * MiB).status_code, 200)


class PartnerRequestRate(harness.ServerTestCase):
    server_args = ("--partner-requests-per-minute", 5)

    def test_a_partners_tokens_share_one_request_allowance(self):
        partner = harness.create_partner(self.server)
        token = self.api.new_user(partner)  # one request with the partner's token
        statuses = [self.api.get_file(token, "file_none").status_code for _ in range(5)]
        self.assertEqual(statuses, [404] * 4 + [429])
        resp = self.api.get_file(token, "file_none")
        body = harness.assert_api_error(resp, 429, "partner_rate_limited")
        self.assertTrue(resp.headers.get("Retry-After"), body)
        # Another partner has its own.
        self.assertEqual(self.api.get_file(self.user(), "file_none").status_code, 404)


class DiskReserve(harness.ServerTestCase):
    # More free space than any disk here has: every new upload eats into the reserve.
    server_args = ("--min-free-bytes", 1 << 60)

    def test_new_uploads_are_refused_507_below_the_free_space_reserve(self):
        resp = self.api.http.post(
            self.server.api_url + "/open/partner/files/upload/generate-presigned-urls",
            json={"filesize": MiB, "filetype": "mp3"}, timeout=harness.TIMEOUT,
            headers={"Authorization": "Bearer " + self.user()})
        self.assertEqual(resp.status_code, 507, resp.text)
        self.assertEqual(resp.json()["error"]["code"], "storage_full")
        # The client is told no more than that; the log has the figures.
        self.assertNotIn("bytes", resp.json()["error"]["message"])


# Downloads -------------------------------------------------------------------------------------
class SlowDownload(harness.ServerTestCase):
    server_args = ("--request-timeout", 2, "--idle-timeout", 10)

    def test_a_download_may_outlast_the_request_timeout_while_it_moves(self):
        token = self.user()
        data = harness.random_bytes(16 * MiB)
        _, done = self.api.upload_file(token, data, parallel=4)
        url = done["DownloadUrl"]
        u = urllib.parse.urlsplit(url)
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.settimeout(10)
        sock.connect((u.hostname, u.port))
        with sock:
            sock.sendall(f"GET {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
            received = b""
            started = time.monotonic()
            # A slow reader: 256 KiB every 0.1 s, so the transfer takes ~6 s, three times
            # the request timeout (these sleeps pace the client on purpose).
            while time.monotonic() - started < 60:
                chunk = sock.recv(256 * 1024)
                if not chunk:
                    break
                received += chunk
                head, sep, body = received.partition(b"\r\n\r\n")
                if sep and len(body) >= len(data):
                    break
                time.sleep(0.1)
            elapsed = time.monotonic() - started
        head, _, body = received.partition(b"\r\n\r\n")
        self.assertTrue(head.startswith(b"HTTP/1.1 200"), head[:200])
        self.assertGreater(elapsed, 2)
        self.assertEqual(len(body), len(data))
        self.assertEqual(hashlib.md5(body).hexdigest(), harness.md5_hex(data))


if __name__ == "__main__":
    harness.main()
