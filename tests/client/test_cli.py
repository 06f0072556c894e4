"""The audiodrop CLI (and libaudiodrop under it) against the real audiodrop-server on
loopback: tokens, uploads from 1 byte to 100 MiB checked byte for byte, status, download,
--json, exit codes, fail-fast 4xx, and resume after the CLI is killed mid-upload."""

import glob
import http.server
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402
from harness import CHUNK_SIZE, MiB  # noqa: E402

CLI_TIMEOUT = 120  # seconds for any one CLI run


def storage_connections(server):
    """Connections open on the server's storage listener, from /metrics."""
    with harness.http_session() as http:
        text = http.get(server.base_url + "/metrics", timeout=harness.TIMEOUT).text
    match = re.search(r'^audiodrop_open_connections\{listener="storage"\} (\d+)$', text, re.M)
    assert match, "no audiodrop_open_connections for the storage listener in /metrics"
    return int(match.group(1))


def cli_binary():
    return harness.built_binary("AUDIODROP_CLI", "audiodrop")


class ApiProxy:
    """Forwards API calls to the server, with faults: `hide_list_parts` answers 404 for the
    list-parts extension (a server with only the plain Plaud contract); `faults` maps a
    path fragment to answers (status, headers) given before the real one, where status
    "drop" closes the connection without an answer and "lose-answer" forwards the request
    and then closes the connection instead of answering. `seen` counts requests per path
    fragment of `faults`."""

    def __init__(self, server, hide_list_parts=False, faults=None, rewrite_part_urls=None):
        upstream = server.base_url  # the proxy's bare URL gets the base path from the CLI
        session = harness.http_session()
        lock = threading.Lock()
        pending = {k: list(v) for k, v in (faults or {}).items()}
        self.seen = {k: 0 for k in pending}
        seen = self.seen

        class Handler(http.server.BaseHTTPRequestHandler):
            def reply(self, status, body, headers=()):
                self.send_response(status)
                for k, v in headers:
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(length)
                if hide_list_parts and "/upload/parts" in self.path:
                    return self.reply(404, b'{"error":{"code":"not_found","message":"no route"}}')
                with lock:
                    fault = None
                    for fragment, answers in pending.items():
                        if fragment in self.path:
                            seen[fragment] += 1
                            if answers:
                                fault = answers.pop(0)
                if fault is not None and fault[0] == "drop":
                    return self.drop()
                if fault is not None and fault[0] != "lose-answer":
                    status, headers = fault
                    return self.reply(status, b'{"error":{"code":"injected","message":"fault"}}',
                                      headers)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("authorization", "content-type")}
                resp = session.request(self.command, upstream + self.path, headers=headers,
                                       data=data, timeout=30)
                if fault is not None:  # the server acted, but its answer never arrives
                    return self.drop()
                body = resp.content
                if rewrite_part_urls and "generate-presigned-urls" in self.path and resp.ok:
                    plan = json.loads(body)
                    for p in plan["Parts"]:
                        p["PresignedUrl"] = rewrite_part_urls(p["PresignedUrl"])
                    body = json.dumps(plan).encode()
                self.reply(resp.status_code, body)

            def drop(self):
                self.close_connection = True
                self.connection.shutdown(socket.SHUT_RDWR)

            do_GET = do_POST = do_PUT = do_DELETE = forward

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class DamagingStorageProxy:
    """Stands between the client and the storage endpoint: forwards each part PUT with
    the Host its URL was signed for, but flips one byte of the first body sent for part
    `part`, as a bad link might. `rewrite(url)` points a presigned URL at the proxy."""

    def __init__(self, server, part):
        upstream = server.storage_url
        upstream_host = upstream.split("://", 1)[1]
        session = harness.http_session()
        state = {"damaged": 0, "puts": {}}
        lock = threading.Lock()
        self.state = state

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_PUT(self):
                data = bytearray(self.rfile.read(int(self.headers["Content-Length"])))
                number = int(dict(p.split("=", 1) for p in
                                  self.path.split("?", 1)[1].split("&"))["partNumber"])
                with lock:
                    state["puts"][number] = state["puts"].get(number, 0) + 1
                    if number == part and state["damaged"] == 0:
                        data[len(data) // 2] ^= 0xFF
                        state["damaged"] = 1
                resp = session.put(upstream + self.path, data=bytes(data),
                                   headers={"Host": upstream_host}, timeout=30)
                self.send_response(resp.status_code)
                for k in ("ETag", "Content-Type"):
                    if k in resp.headers:
                        self.send_header(k, resp.headers[k])
                self.send_header("Content-Length", str(len(resp.content)))
                self.end_headers()
                self.wfile.write(resp.content)

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.upstream = upstream
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()

    def rewrite(self, url):
        return url.replace(self.upstream, self.url, 1)

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


class Cli(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="audiodrop-cli-test-")
        cls.state_dir = os.path.join(cls.tmp, "state")
        cls.token = cls.api.new_user(cls.partner)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    # Helpers ---------------------------------------------------------------------
    def env(self, extra=None):
        env = dict(os.environ)
        env.pop("AUDIODROP_TOKEN", None)
        env.pop("AUDIODROP_ENDPOINT", None)
        env["XDG_STATE_HOME"] = os.path.join(self.tmp, "xdg")
        env.update(extra or {})
        return env

    def run_cli(self, *args, endpoint=True, env=None):
        cmd = [cli_binary(), *map(str, args)]
        if endpoint:
            cmd += ["--endpoint", self.server.api_url]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                              env=self.env(env), stdin=subprocess.DEVNULL)

    def ok(self, *args, **kwargs):
        proc = self.run_cli(*args, **kwargs)
        self.assertEqual(proc.returncode, 0, f"{args}: {proc.stderr}")
        return proc

    def write_file(self, data, name=None):
        path = os.path.join(self.tmp, name or f"f-{len(data)}-{time.monotonic_ns()}.mp3")
        with open(path, "wb") as f:
            f.write(data)
        return path

    def upload_json(self, path, *extra, state_dir=None):
        proc = self.ok("upload", path, "--token", self.token, "--json", "--quiet",
                       "--state-dir", state_dir or self.state_dir, *extra)
        lines = proc.stdout.strip().splitlines()
        self.assertEqual(len(lines), 1, proc.stdout)
        return json.loads(lines[0])

    def upload_exactly(self, data, endpoint):
        """Uploads `data` through `endpoint` and checks the file landed byte for byte."""
        proc = self.ok("upload", self.write_file(data), "--token", self.token, "--json",
                       "--quiet", "--no-resume", "--endpoint", endpoint, endpoint=False)
        result = json.loads(proc.stdout)
        self.assertEqual(result["FileMd5"], harness.md5_hex(data))
        self.assertTrue(harness.download(result["DownloadUrl"]).content == data)
        return result

    # Tokens ------------------------------------------------------------------------
    def test_token_commands_mint_tokens_that_upload(self):
        proc = self.ok("token", "partner", "--client-id", self.partner["client_id"],
                       "--secret-key", self.partner["secret_key"], "--json")
        partner = json.loads(proc.stdout)
        self.assertEqual(partner["token_type"], "bearer")
        self.assertTrue(partner["refresh_token"])
        plain = self.ok("token", "user", "--partner-token", partner["access_token"],
                        "--user-id", "cli-user-0001")
        user_token = plain.stdout.strip()
        self.assertEqual(len(user_token.splitlines()), 1)
        data = harness.random_bytes(1000)
        proc = self.ok("upload", self.write_file(data), "--quiet", "--json",
                       env={"AUDIODROP_TOKEN": user_token})
        self.assertEqual(json.loads(proc.stdout)["FileMd5"], harness.md5_hex(data))

    # Flags, environment, defaults -------------------------------------------------------
    def test_token_flag_beats_the_environment_in_every_command(self):
        bad = {"AUDIODROP_TOKEN": "not-a-token"}
        data = harness.random_bytes(1000)
        proc = self.ok("upload", self.write_file(data), "--token", self.token, "--json",
                       "--quiet", "--no-resume", env=bad)
        file_id = json.loads(proc.stdout)["FileId"]
        proc = self.ok("status", file_id, "--token", self.token, "--json", env=bad)
        self.assertEqual(json.loads(proc.stdout)["Status"], "completed")
        out = os.path.join(self.tmp, "flag-beats-env.bin")
        self.ok("download", file_id, "-o", out, "--token", self.token, env=bad)
        with open(out, "rb") as f:
            self.assertTrue(f.read() == data, "downloaded file differs")
        # Without the flag the environment is used.
        proc = self.run_cli("status", file_id, env=bad)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn("HTTP 401", proc.stderr)
        self.ok("status", file_id, env={"AUDIODROP_TOKEN": self.token})

    def test_endpoint_and_region_flags_beat_the_environment(self):
        dead = f"http://127.0.0.1:{harness.free_ports(1)[0]}/developer/api"
        file_id = self.completed_file_id()
        self.ok("status", file_id, "--token", self.token, env={"AUDIODROP_ENDPOINT": dead})
        proc = self.run_cli("status", file_id, "--token", self.token, "--region", "sg",
                            endpoint=False, env={"AUDIODROP_ENDPOINT": self.server.api_url})
        self.assertEqual(proc.returncode, 2, proc.stderr)
        self.assertIn("coming soon", proc.stderr)
        self.ok("status", file_id, "--token", self.token, endpoint=False,
                env={"AUDIODROP_ENDPOINT": self.server.api_url})

    # Endpoints: every address the server gives out works -----------------------------
    def completed_file_id(self):
        data = harness.random_bytes(100)
        proc = self.ok("upload", self.write_file(data), "--token", self.token, "--json",
                       "--quiet", "--no-resume")
        return json.loads(proc.stdout)["FileId"]

    def ready_line(self, server):
        """The logfmt fields of the server's last `msg=ready` line."""
        with open(server.log_path, errors="replace") as f:
            line = [ln for ln in f if "msg=ready" in ln][-1]
        return {k: v.strip('"') for k, v in re.findall(r'(\w+)=("[^"]*"|\S+)', line)}

    def test_the_addresses_the_server_prints_at_start_work_as_endpoint(self):
        ready = self.ready_line(self.server)
        host = self.server.base_url
        self.assertEqual(ready["public_url"], self.server.api_url)
        self.assertEqual("http://" + ready["api"], host)
        file_id = self.completed_file_id()
        for endpoint in (host, host + "/", ready["api"], ready["public_url"],
                         ready["public_url"] + "/"):
            with self.subTest(endpoint=endpoint):
                proc = self.ok("status", file_id, "--token", self.token, "--json",
                               "--endpoint", endpoint, endpoint=False)
                self.assertEqual(json.loads(proc.stdout)["FileId"], file_id)
                proc = self.ok("status", file_id, "--token", self.token, "--json",
                               endpoint=False, env={"AUDIODROP_ENDPOINT": endpoint})
                self.assertEqual(json.loads(proc.stdout)["FileId"], file_id)
        self.upload_exactly(harness.random_bytes(CHUNK_SIZE + 1), host)
        proc = self.ok("token", "partner", "--client-id", self.partner["client_id"],
                       "--secret-key", self.partner["secret_key"], "--endpoint", host,
                       endpoint=False)
        self.ok("token", "user", "--partner-token", proc.stdout.strip(), "--user-id",
                "cli-user-bare-host", "--endpoint", host, endpoint=False)

    def test_the_host_named_by_a_wrong_region_answer_works_as_endpoint(self):
        # A jp deployment refuses a us token and names the us host as its operator set it:
        # a bare host here, which the CLI completes with the base path.
        file_id = self.completed_file_id()
        with harness.Server("--region-host", f"us={self.server.base_url}", region="jp") as jp:
            proc = self.run_cli("status", file_id, "--token", self.token, "--endpoint",
                                jp.api_url, endpoint=False)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        named = re.search(r"send it to (\S+)$", proc.stderr.strip())
        self.assertIsNotNone(named, proc.stderr)
        self.assertEqual(named.group(1), self.server.base_url)
        self.ok("status", file_id, "--token", self.token, "--endpoint", named.group(1),
                endpoint=False)

    def test_an_endpoint_without_a_usable_scheme_is_a_usage_error(self):
        cases = {
            "example.test:8080": "needs http:// or https:// in front",
            "10.0.0.1:8080/developer/api": "needs http:// or https:// in front",
            "ftp://127.0.0.1:21": "must start with http:// or https://",
            "http://127.0.0.1:8080/developer/api?x=1": "must not have a query or fragment",
            "http://": "has no host",
        }
        for endpoint, message in cases.items():
            with self.subTest(endpoint=endpoint):
                proc = self.run_cli("status", "file_x", "--token", "t", "--endpoint", endpoint,
                                    endpoint=False)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertEqual(proc.stderr.strip(),
                                 f"audiodrop: endpoint '{endpoint}' {message}")

    def test_wrong_secret_fails_with_the_servers_message(self):
        proc = self.run_cli("token", "partner", "--client-id", self.partner["client_id"],
                            "--secret-key", "wrong")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("invalid_client", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    # Uploads -------------------------------------------------------------------------
    def test_uploads_from_one_byte_to_100_mib_download_byte_for_byte(self):
        for size in (1, CHUNK_SIZE, 12 * MiB + 7, 100 * MiB):
            with self.subTest(size=size):
                data = harness.random_bytes(size)
                path = self.write_file(data)
                result = self.upload_json(path)
                self.assertLessEqual({"FileId", "FileType", "FileMd5", "DownloadUrl"},
                                     set(result))
                self.assertEqual(result["FileMd5"], harness.md5_hex(data))
                self.assertEqual(result["FileType"], "mp3")
                self.assertEqual(result["PartsSent"], max(1, -(-size // CHUNK_SIZE)))
                got = harness.download(result["DownloadUrl"])
                self.assertEqual(got.status_code, 200)
                self.assertTrue(got.content == data, "DownloadUrl bytes differ")
                out = os.path.join(self.tmp, "out.bin")
                self.ok("download", result["FileId"], "-o", out, "--token", self.token)
                with open(out, "rb") as f:
                    self.assertTrue(f.read() == data, "downloaded file differs")
                os.remove(out)
                os.remove(path)
        self.assertEqual(glob.glob(os.path.join(self.state_dir, "*.json")), [],
                         "journals of completed uploads must be removed")

    def test_status_reports_a_completed_upload(self):
        data = harness.random_bytes(CHUNK_SIZE + 5)
        result = self.upload_json(self.write_file(data), "--filetype", "wav")
        proc = self.ok("status", result["FileId"], "--token", self.token, "--json")
        status = json.loads(proc.stdout)
        self.assertEqual(status["Status"], "completed")
        self.assertEqual(status["FileSize"], len(data))
        self.assertEqual(status["FileType"], "wav")
        self.assertEqual(status["PartCount"], 2)
        self.assertEqual(status["FileMd5"], harness.md5_hex(data))
        plain = self.ok("status", result["FileId"], "--token", self.token)
        self.assertIn("Status: completed", plain.stdout)

    def test_progress_lines_when_not_a_terminal_and_none_with_quiet(self):
        data = harness.random_bytes(2 * CHUNK_SIZE)
        path = self.write_file(data)
        loud = self.ok("upload", path, "--token", self.token, "--no-resume")
        self.assertIn("upload: 100% (2/2 parts)", loud.stderr)
        self.assertIn("FileMd5: " + harness.md5_hex(data), loud.stdout)
        quiet = self.ok("upload", path, "--token", self.token, "--no-resume", "--quiet")
        self.assertEqual(quiet.stderr, "")

    # Failures --------------------------------------------------------------------------
    def test_bad_filetype_fails_fast_with_the_servers_message(self):
        path = self.write_file(b"x" * 100)
        started = time.monotonic()
        proc = self.run_cli("upload", path, "--token", self.token, "--filetype", "exe")
        self.assertLess(time.monotonic() - started, 5, "a 400 must not be retried")
        self.assertEqual(proc.returncode, 1)
        self.assertIn("unsupported_filetype", proc.stderr)
        self.assertIn("'exe' is not allowed", proc.stderr)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)

    def test_unreachable_server_is_retried_then_fails_with_one_line(self):
        port = harness.free_ports(1)[0]
        started = time.monotonic()
        proc = self.run_cli("status", "file_x", "--token", "t", "--endpoint",
                            f"http://127.0.0.1:{port}/developer/api", endpoint=False)
        elapsed = time.monotonic() - started
        self.assertEqual(proc.returncode, 1)
        self.assertEqual(len(proc.stderr.strip().splitlines()), 1, proc.stderr)
        self.assertIn("connect", proc.stderr.lower())
        # Six attempts with backoff from 200 ms: at least ~3 s of waiting, bounded by 20 s.
        self.assertGreater(elapsed, 2.5)
        self.assertLess(elapsed, 20)

    def test_5xx_and_429_are_retried_honouring_retry_after(self):
        proxy = ApiProxy(self.server, faults={
            "generate-presigned-urls": [(503, ()), (500, ())],
            "complete-upload": [(429, (("Retry-After", "2"),)), (502, ())],
        })
        try:
            data = harness.random_bytes(CHUNK_SIZE + 10)
            started = time.monotonic()
            proc = self.ok("upload", self.write_file(data), "--token", self.token, "--json",
                           "--quiet", "--no-resume", "--endpoint", proxy.url, endpoint=False)
            elapsed = time.monotonic() - started
            self.assertEqual(json.loads(proc.stdout)["FileMd5"], harness.md5_hex(data))
            self.assertEqual(proxy.seen, {"generate-presigned-urls": 3, "complete-upload": 3})
            self.assertGreaterEqual(elapsed, 2.0, "Retry-After: 2 must be waited out")
        finally:
            proxy.close()

    def test_dropped_connections_and_lost_answers_are_retried(self):
        proxy = ApiProxy(self.server, faults={
            "generate-presigned-urls": [("drop", ())],
            # The server completes the upload but the answer is lost, twice: the retries
            # get the idempotent answer of the complete that succeeded.
            "complete-upload": [("lose-answer", ()), ("lose-answer", ())],
        })
        try:
            self.upload_exactly(harness.random_bytes(2 * CHUNK_SIZE + 3), proxy.url)
            self.assertEqual(proxy.seen, {"generate-presigned-urls": 2, "complete-upload": 3})
        finally:
            proxy.close()

    def test_a_part_damaged_on_the_way_is_found_and_sent_again(self):
        # The client hashes the file once and lets the server check file_md5; when the
        # stored bytes differ, it finds the part whose ETag is not its MD5 and resends it.
        storage = DamagingStorageProxy(self.server, part=2)
        proxy = ApiProxy(self.server, rewrite_part_urls=storage.rewrite)
        try:
            self.upload_exactly(harness.random_bytes(3 * CHUNK_SIZE + 17), proxy.url)
            self.assertEqual(storage.state["damaged"], 1)
            self.assertEqual(storage.state["puts"], {1: 1, 2: 2, 3: 1, 4: 1})
        finally:
            proxy.close()
            storage.close()

    def test_4xx_is_not_retried(self):
        proxy = ApiProxy(self.server, faults={"generate-presigned-urls": [(400, ())] * 5})
        try:
            proc = self.run_cli("upload", self.write_file(b"abc"), "--token", self.token,
                                "--no-resume", "--endpoint", proxy.url, endpoint=False)
            self.assertEqual(proc.returncode, 1)
            self.assertIn("HTTP 400 injected: fault", proc.stderr)
            self.assertEqual(proxy.seen["generate-presigned-urls"], 1)
        finally:
            proxy.close()

    def test_status_of_unknown_file_fails_with_not_found(self):
        proc = self.run_cli("status", "file_doesnotexist", "--token", self.token)
        self.assertEqual(proc.returncode, 1)
        self.assertIn("404", proc.stderr)

    def test_usage_errors_exit_2(self):
        path = self.write_file(b"abc")
        cases = [
            ([], True),
            (["upload"], True),
            (["upload", path], True),  # no token anywhere
            (["upload", path, "--token", "t", "--parallel", "0"], True),
            (["upload", path, "--token", "t", "--bogus"], True),
            (["token", "partner", "--client-id", "x"], True),
            (["download", "file_x", "--token", "t"], True),  # no -o
            (["status", "file_x", "--token", "t", "--region", "us"], True),  # both host flags
            (["status", "file_x", "--token", "t", "--region", "eu"], False),
            (["status", "file_x", "--token", "t", "--region", "mars"], False),
        ]
        for args, endpoint in cases:
            with self.subTest(args=args):
                proc = self.run_cli(*args, endpoint=endpoint)
                self.assertEqual(proc.returncode, 2, proc.stderr)
                self.assertTrue(proc.stderr.strip(), "a usage error says why")
        proc = self.run_cli("status", "file_x", "--token", "t", "--region", "sg", endpoint=False)
        self.assertIn("coming soon", proc.stderr)

    def test_help_on_every_command_lists_every_option_it_takes(self):
        common = {"--help", "--endpoint", "--region", "--state-dir", "--ca-cert", "--json",
                  "--quiet"}
        own = {
            (): set(),
            ("token",): set(),
            ("token", "partner"): {"--client-id", "--secret-key"},
            ("token", "user"): {"--partner-token", "--user-id", "--expires-in"},
            ("upload",): {"--filetype", "--parallel", "--limit-rate", "--no-resume", "--token"},
            ("status",): {"--token"},
            ("download",): {"--output", "--token"},
        }
        for args, options in own.items():
            with self.subTest(args=args):
                proc = self.run_cli(*args, "--help", endpoint=False)
                self.assertEqual(proc.returncode, 0, proc.stderr)
                self.assertIn("Usage", proc.stdout)
                listed = set(re.findall(r"^\s+(?:-\w,)?(--[\w-]+)", proc.stdout, re.MULTILINE))
                self.assertEqual(listed, common | options)

    # Resume ----------------------------------------------------------------------------
    def interrupted_upload(self, path, state_dir, min_parts, sig=signal.SIGKILL, endpoint=None):
        """Starts a rate-limited upload, stops it with `sig` once `min_parts` parts are on
        the server; returns (journal, parts listed on the server, exit code, stderr)."""
        cmd = [cli_binary(), "upload", path, "--token", self.token, "--quiet", "--parallel", "2",
               "--limit-rate", str(8 * MiB), "--state-dir", state_dir,
               "--endpoint", endpoint or self.server.api_url]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=self.env(), stdin=subprocess.DEVNULL)
        err = ""
        try:
            deadline = time.monotonic() + 60
            journal, listed = None, []
            while time.monotonic() < deadline and proc.poll() is None:
                files = glob.glob(os.path.join(state_dir, "*.json"))
                if files and journal is None:
                    with open(files[0]) as f:
                        journal = json.load(f)
                if journal is not None:
                    resp = self.api.parts(self.token, journal["file_id"], journal["upload_id"])
                    listed = resp.json()["Parts"]
                    if len(listed) >= min_parts:
                        proc.send_signal(sig)
                        break
                time.sleep(0.02)
        finally:
            proc.wait(timeout=30)
            err = proc.stderr.read().decode(errors="replace")
            proc.stdout.close()
            proc.stderr.close()
        self.assertNotEqual(proc.returncode, 0, "the upload finished before it was interrupted")
        self.assertIsNotNone(journal)
        # Parts in flight at the signal may still land: once the server has closed every
        # storage connection (each PUT stored or dropped), read its view again.
        harness.wait_for(lambda: storage_connections(self.server) == 0, timeout=30,
                         what="the interrupted PUTs to end on the server")
        resp = self.api.parts(self.token, journal["file_id"], journal["upload_id"])
        return journal, resp.json()["Parts"], proc.returncode, err

    def test_killed_upload_resumes_sending_only_missing_parts(self):
        data = harness.random_bytes(8 * CHUNK_SIZE + 123)
        path = self.write_file(data)
        state_dir = os.path.join(self.tmp, "state-kill9")
        journal, listed, _, _ = self.interrupted_upload(path, state_dir, min_parts=3)
        on_server = len(listed)
        self.assertLess(on_server, 9)
        result = self.upload_json(path, state_dir=state_dir)
        self.assertTrue(result["Resumed"])
        self.assertEqual(result["FileId"], journal["file_id"])
        self.assertEqual(result["PartsSkipped"], on_server)
        self.assertEqual(result["PartsSent"], 9 - on_server)
        self.assertEqual(result["FileMd5"], harness.md5_hex(data))
        self.assertTrue(harness.download(result["DownloadUrl"]).content == data)
        self.assertEqual(glob.glob(os.path.join(state_dir, "*.json")), [])
        # The server's access log: across both runs every part was stored exactly once.
        self.assertEqual(self.stored_part_puts(journal["file_id"]), 9)

    def test_server_killed_and_restarted_mid_upload_the_upload_finishes(self):
        data = harness.random_bytes(8 * CHUNK_SIZE + 5)
        path = self.write_file(data)
        state_dir = os.path.join(self.tmp, "state-server-kill9")
        cmd = [cli_binary(), "upload", path, "--token", self.token, "--json", "--quiet",
               "--parallel", "2", "--limit-rate", str(8 * MiB), "--state-dir", state_dir,
               "--endpoint", self.server.api_url]
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                env=self.env(), stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            killed = False
            while time.monotonic() < deadline and proc.poll() is None and not killed:
                files = glob.glob(os.path.join(state_dir, "*.json"))
                if files:
                    with open(files[0]) as f:
                        journal = json.load(f)
                    resp = self.api.parts(self.token, journal["file_id"], journal["upload_id"])
                    if len(resp.json()["Parts"]) >= 2:
                        self.server.kill9()
                        killed = True
                time.sleep(0.02)
            self.assertTrue(killed, "the upload finished before the server could be killed")
            time.sleep(0.5)
            self.server.restart()
            out, err = proc.communicate(timeout=CLI_TIMEOUT)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
        if proc.returncode == 0:
            result = json.loads(out.strip().splitlines()[-1])  # retries carried it through
        else:
            result = self.upload_json(path, state_dir=state_dir)  # or the next run resumes
            self.assertTrue(result["Resumed"], err)
        self.assertEqual(result["FileId"], journal["file_id"])
        self.assertEqual(result["FileMd5"], harness.md5_hex(data))
        self.assertTrue(harness.download(result["DownloadUrl"]).content == data)

    def stored_part_puts(self, file_id):
        deadline = time.monotonic() + 10
        while True:
            with open(self.server.log_path, errors="replace") as f:
                count = sum(1 for line in f if "method=PUT" in line and f"/{file_id}." in line
                            and "status=200" in line)
            if count >= 9 or time.monotonic() > deadline:
                return count
            time.sleep(0.1)

    def test_ctrl_c_then_resume(self):
        data = harness.random_bytes(6 * CHUNK_SIZE)
        path = self.write_file(data)
        state_dir = os.path.join(self.tmp, "state-sigint")
        started = time.monotonic()
        journal, listed, code, err = self.interrupted_upload(path, state_dir, min_parts=2,
                                                             sig=signal.SIGINT)
        self.assertEqual(code, 130, err)
        self.assertIn("run the same command again to resume", err)
        self.assertLess(time.monotonic() - started, 20)
        result = self.upload_json(path, state_dir=state_dir)
        self.assertTrue(result["Resumed"])
        self.assertEqual(result["PartsSkipped"], len(listed))
        self.assertEqual(result["PartsSent"], 6 - len(listed))
        self.assertEqual(result["FileMd5"], harness.md5_hex(data))

    def test_without_list_parts_an_interrupted_upload_starts_over(self):
        proxy = ApiProxy(self.server, hide_list_parts=True)
        try:
            data = harness.random_bytes(6 * CHUNK_SIZE + 1)
            path = self.write_file(data)
            state_dir = os.path.join(self.tmp, "state-plain")
            journal, _, _, _ = self.interrupted_upload(path, state_dir, min_parts=2,
                                                       endpoint=proxy.url)
            proc = self.ok("upload", path, "--token", self.token, "--json", "--quiet",
                           "--state-dir", state_dir, "--endpoint", proxy.url, endpoint=False)
            result = json.loads(proc.stdout)
            self.assertFalse(result["Resumed"])
            self.assertNotEqual(result["FileId"], journal["file_id"])
            self.assertEqual(result["PartsSent"], 7)
            self.assertEqual(result["FileMd5"], harness.md5_hex(data))
            self.assertTrue(harness.download(result["DownloadUrl"]).content == data)
        finally:
            proxy.close()

    def test_resume_with_rejected_presigned_urls_starts_over(self):
        data = harness.random_bytes(6 * CHUNK_SIZE)
        path = self.write_file(data)
        state_dir = os.path.join(self.tmp, "state-stale-urls")
        journal, _, _, _ = self.interrupted_upload(path, state_dir, min_parts=2)
        # Stand in for URLs that expired: the storage endpoint refuses them with 403.
        [journal_file] = glob.glob(os.path.join(state_dir, "*.json"))
        journal["part_urls"] = [u.replace("X-Amz-Signature=", "X-Amz-Signature=0")
                                for u in journal["part_urls"]]
        with open(journal_file, "w") as f:
            json.dump(journal, f)
        result = self.upload_json(path, state_dir=state_dir)
        self.assertFalse(result["Resumed"])
        self.assertNotEqual(result["FileId"], journal["file_id"])
        self.assertEqual(result["PartsSent"], 6)
        self.assertEqual(result["FileMd5"], harness.md5_hex(data))

    def test_changed_file_starts_over(self):
        data = harness.random_bytes(6 * CHUNK_SIZE)
        path = self.write_file(data)
        state_dir = os.path.join(self.tmp, "state-changed")
        journal, _, _, _ = self.interrupted_upload(path, state_dir, min_parts=2)
        changed = harness.random_bytes(6 * CHUNK_SIZE)
        with open(path, "wb") as f:
            f.write(changed)
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 5_000_000_000))
        result = self.upload_json(path, state_dir=state_dir)
        self.assertFalse(result["Resumed"])
        self.assertNotEqual(result["FileId"], journal["file_id"])
        self.assertEqual(result["PartsSent"], 6)
        self.assertEqual(result["FileMd5"], harness.md5_hex(changed))
        stale = self.api.get_file(self.token, journal["file_id"])
        self.assertEqual(stale.json()["Status"], "aborted", "the stale upload is aborted")


if __name__ == "__main__":
    harness.main()
