"""/metrics as a Prometheus operator scrapes it: after real traffic that reaches every
route (an upload with its audio probe, downloads, refused and unknown requests, an
abort, an upload left to expire), the exposition passes Prometheus's own linter
(`promtool check metrics`, Debian's prometheus package), its counters and latency
histograms say exactly what happened, and every metric the example Grafana dashboard
(docs/grafana/audiodrop-dashboard.json) queries is one the server exports."""

import json
import os
import re
import socket
import subprocess
import unittest

import harness
from audio_files import make_audio

PROMTOOL = "/usr/bin/promtool"
DASHBOARD = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "docs",
                         "grafana", "audiodrop-dashboard.json")
# Short enough that an upload left open expires within the test; long enough for the
# others to be completed or aborted well before.
UPLOAD_TTL = 5
GENERATE = "/open/partner/files/upload/generate-presigned-urls"
ABORT = "/open/partner/files/upload/abort-upload"

SAMPLE = re.compile(r"^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$")
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """{(name, ((label, value), ...) sorted): value} of every sample in `text`."""
    samples = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        match = SAMPLE.match(line)
        if not match:
            raise AssertionError(f"not a sample line: {line!r}")
        labels = tuple(sorted(LABEL.findall(match.group(2) or "")))
        samples[(match.group(1), labels)] = float(match.group(3))
    return samples


def value(samples, name, **labels):
    """A series' value; 0 for one not exported yet (a counter nothing has counted)."""
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def requests_total(samples, **labels):
    """audiodrop_http_requests_total added up over the series that carry `labels`."""
    wanted = set(labels.items())
    return sum(v for (name, ls), v in samples.items()
               if name == "audiodrop_http_requests_total" and wanted <= set(ls))


def histograms(samples):
    """{labels without le: [(le, cumulative count), ...] in the order of le}."""
    out = {}
    for (name, labels), v in samples.items():
        if name != "audiodrop_http_request_duration_seconds_bucket":
            continue
        le = dict(labels)["le"]
        key = tuple(item for item in labels if item[0] != "le")
        out.setdefault(key, []).append((float(le), v))
    return {key: sorted(buckets) for key, buckets in out.items()}


def dashboard_exprs():
    """The dashboard, and the PromQL of its panels and of its variables."""
    with open(DASHBOARD) as f:
        board = json.load(f)
    exprs = [target["expr"] for panel in board["panels"] for target in panel["targets"]]
    exprs += [v["definition"] for v in board["templating"]["list"]]
    return board, exprs


def as_prometheus_sees_it(expr):
    """`expr` with Grafana's variables replaced as Grafana would: PromQL proper."""
    return expr.replace("$__rate_interval", "5m").replace("$instance", ".*")


class MetricsTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server("--upload-ttl", UPLOAD_TTL, "--sweep-interval", 1, "--demo")
        cls.server.start()
        cls.api = harness.Api(cls.server)
        cls.cred = harness.create_partner(cls.server)
        cls.token = cls.api.new_user(cls.cred)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.cleanup()

    def scrape(self):
        with harness.http_session() as http:
            resp = http.get(self.server.base_url + "/metrics", timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 200)
        self.assertTrue(resp.headers["Content-Type"].startswith("text/plain"))
        return resp.text

    def metrics(self):
        return parse(self.scrape())

    def exercise_every_route(self):
        """At least one request to each route, with answers from 200 to 405; every
        upload it starts ends (completed, aborted or deleted) before it returns."""
        api, token = self.api, self.token
        partner = api.partner_tokens(self.cred)
        refreshed = api.refresh_response(partner["refresh_token"])
        self.assertEqual(refreshed.status_code, 200)
        self.assertEqual(api.partner_token_response(self.cred["client_id"], "wrong").status_code,
                         401)
        self.assertEqual(api.user_token_response(partner["access_token"], "user-m").status_code,
                         200)

        data = make_audio("mp3", 3)
        _, done = api.upload_file(token, data, "mp3")
        self.assertEqual(harness.download(done["DownloadUrl"]).content, data)
        self.assertEqual(harness.download(done["DownloadUrl"], method="HEAD").status_code, 200)
        self.assertEqual(api.get_file(token, done["FileId"]).status_code, 200)
        self.assertEqual(api.delete_file(token, done["FileId"]).status_code, 200)
        self.assertEqual(api.get_file(token, done["FileId"]).status_code, 404)

        plan = api.start_upload(token, 1000)
        self.assertEqual(api.parts(token, plan["FileId"], plan["UploadId"]).status_code, 200)
        forged = re.sub(r"X-Amz-Signature=.", lambda m: m.group(0)[:-1] + (
            "1" if m.group(0).endswith("0") else "0"), plan["Parts"][0]["PresignedUrl"])
        self.assertEqual(harness.put_part(forged, b"x" * 1000).status_code, 403)
        self.assertEqual(api.abort(token, plan["FileId"], plan["UploadId"]).status_code, 200)

        bearer = partner["access_token"]
        self.assertEqual(api.request("GET", "/open/partner/webhooks", token=bearer).status_code,
                         200)
        for method, path in (("GET", "/open/partner/webhooks/wh_none"),
                             ("POST", "/open/partner/webhooks/wh_none/rotate-secret"),
                             ("POST", "/open/partner/webhooks/wh_none/ping"),
                             ("GET", "/open/partner/webhooks/wh_none/deliveries")):
            self.assertEqual(api.request(method, path, token=bearer).status_code, 404, path)
        self.assertEqual(api.request("DELETE", GENERATE, token=token).status_code, 405)
        self.assertEqual(api.request("GET", "/no/such/route", token=token).status_code, 404)

        with harness.http_session() as http:
            for path in ("/healthz", "/readyz", "/metrics", "/demo/"):
                self.assertEqual(http.get(self.server.base_url + path,
                                          timeout=harness.TIMEOUT).status_code, 200, path)
            self.assertEqual(http.post(self.server.storage_url + "/audiodrop/key",
                                       timeout=harness.TIMEOUT).status_code, 405)

    def test_generate_calls_are_counted_exactly_by_route_and_status(self):
        before = self.metrics()
        plans = [self.api.start_upload(self.token, 1000) for _ in range(3)]
        self.assertEqual(self.api.generate(None, 1000).status_code, 401)
        after = self.metrics()
        for plan in plans:
            self.assertEqual(self.api.abort(self.token, plan["FileId"], plan["UploadId"])
                             .status_code, 200)

        route = dict(listener="api", route=GENERATE, method="POST")
        for status, count in (("200", 3), ("401", 1)):
            self.assertEqual(value(after, "audiodrop_http_requests_total", status=status, **route)
                             - value(before, "audiodrop_http_requests_total", status=status,
                                     **route), count, status)
        self.assertEqual(value(after, "audiodrop_http_request_duration_seconds_count", **route)
                         - value(before, "audiodrop_http_request_duration_seconds_count",
                                 **route), 4)
        self.assertEqual(value(after, "audiodrop_uploads_started_total")
                         - value(before, "audiodrop_uploads_started_total"), 3)

    def test_an_abort_is_counted_once(self):
        plan = self.api.start_upload(self.token, 1000)
        before = self.metrics()
        for _ in range(2):  # the second abort of the same upload changes nothing
            self.assertEqual(self.api.abort(self.token, plan["FileId"], plan["UploadId"])
                             .status_code, 200)
        after = self.metrics()
        self.assertEqual(value(after, "audiodrop_uploads_aborted_total")
                         - value(before, "audiodrop_uploads_aborted_total"), 1)
        route = dict(listener="api", route=ABORT, method="POST", status="200")
        self.assertEqual(value(after, "audiodrop_http_requests_total", **route)
                         - value(before, "audiodrop_http_requests_total", **route), 2)

    def test_an_upload_left_open_is_counted_expired_once_the_sweep_ends_it(self):
        before = value(self.metrics(), "audiodrop_uploads_expired_total")
        plan = self.api.start_upload(self.token, 1000)
        harness.wait_for(
            lambda: value(self.metrics(), "audiodrop_uploads_expired_total") > before,
            timeout=UPLOAD_TTL + 30, what="the sweep to expire the upload", interval=0.2)
        self.assertEqual(value(self.metrics(), "audiodrop_uploads_expired_total"), before + 1)
        self.assertEqual(self.api.get_file(self.token, plan["FileId"]).json()["Status"],
                         "expired")

    def test_after_every_route_the_exposition_passes_promtool_and_adds_up(self):
        self.exercise_every_route()
        text = self.scrape()
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                              capture_output=True, timeout=60)
        self.assertEqual(lint.returncode, 0,
                         (lint.stdout + lint.stderr).decode(errors="replace"))
        samples = parse(text)

        # Every route has requests, each under its template, never under a raw path.
        routes = {dict(labels)["route"] for (name, labels) in samples
                  if name == "audiodrop_http_requests_total"}
        self.assertEqual(routes, {
            "/healthz", "/readyz", "/metrics", "/demo/", "unmatched",
            "/oauth/partner/access-token", "/oauth/partner/access-token/refresh",
            "/open/partner/users/access-token", GENERATE,
            "/open/partner/files/upload/complete-upload", "/open/partner/files/upload/parts",
            ABORT, "/open/partner/files/{file_id}", "/open/partner/webhooks",
            "/open/partner/webhooks/{webhook_id}",
            "/open/partner/webhooks/{webhook_id}/rotate-secret",
            "/open/partner/webhooks/{webhook_id}/ping",
            "/open/partner/webhooks/{webhook_id}/deliveries",
            "storage_part_put", "storage_object_get"})
        for labels, status in (
                (dict(route="/open/partner/files/{file_id}", method="GET"), "404"),
                (dict(route="/oauth/partner/access-token", method="POST"), "401"),
                (dict(route=GENERATE, method="DELETE"), "405"),
                (dict(route="unmatched", method="GET", listener="api"), "404"),
                (dict(route="storage_part_put", method="PUT"), "403"),
                (dict(route="storage_object_get", method="HEAD"), "200"),
                (dict(route="unmatched", method="POST", listener="storage"), "405")):
            self.assertGreaterEqual(requests_total(samples, status=status, **labels), 1, labels)

        # Each histogram is cumulative, ends in +Inf, and counts what the counter counts.
        series = histograms(samples)
        self.assertIn((("listener", "storage"), ("method", "PUT"), ("route", "storage_part_put")),
                      series)
        for key, buckets in series.items():
            counts = [c for _, c in buckets]
            self.assertEqual(counts, sorted(counts), key)
            self.assertEqual(buckets[-1][0], float("inf"), key)
            self.assertEqual(buckets[-1][1], value(samples,
                                                   "audiodrop_http_request_duration_seconds_count",
                                                   **dict(key)), key)
            self.assertEqual(buckets[-1][1], requests_total(samples, **dict(key)), key)

        self.assertEqual(value(samples, "audiodrop_probes_total"), 1)
        self.assertGreater(value(samples, "audiodrop_probe_seconds_total"), 0)
        for listener in ("api", "storage"):
            self.assertIn(("audiodrop_open_connections", (("listener", listener),)), samples)
        for pool in ("metadata", "storage", "hash", "argon2", "webhook"):
            self.assertIn(("audiodrop_worker_queued", (("pool", pool),)), samples)
            self.assertGreater(value(samples, "audiodrop_worker_queue_limit", pool=pool), 0)

    def test_the_dashboard_queries_only_metrics_the_server_exports(self):
        self.exercise_every_route()
        exported = {name for (name, _) in self.metrics()}
        board, exprs = dashboard_exprs()
        self.assertEqual(board["__inputs"][0]["name"], "DS_PROMETHEUS")
        self.assertGreaterEqual(len(exprs), 10)
        for expr in exprs:
            names = set(re.findall(r"\b(audiodrop_[a-zA-Z0-9_]+)", expr))
            self.assertTrue(names, f"no audiodrop metric in {expr!r}")
            self.assertEqual(names - exported, set(), expr)

        # Each panel's query parses as PromQL: Prometheus's own parser reads it as a rule.
        queries = [e for e in exprs if not e.startswith("label_values(")]
        rules = {"groups": [{"name": "dashboard", "rules": [
            {"record": f"dashboard:query_{i}", "expr": as_prometheus_sees_it(e)}
            for i, e in enumerate(queries)]}]}
        path = os.path.join(self.server.root, "dashboard-rules.yml")
        with open(path, "w") as f:
            json.dump(rules, f)  # JSON is YAML
        check = subprocess.run([PROMTOOL, "check", "rules", path], capture_output=True,
                               timeout=60)
        self.assertEqual(check.returncode, 0,
                         (check.stdout + check.stderr).decode(errors="replace"))


class StoreErrorMetricsTest(unittest.TestCase):
    """A store that fails: the object store has less free space than the reserve, so a
    new upload is refused 507 storage_full, counted once as the object store's."""

    @classmethod
    def setUpClass(cls):
        cls.server = harness.Server("--min-free-bytes", 1 << 62)
        cls.server.start()
        cls.api = harness.Api(cls.server)
        cls.token = cls.api.new_user(harness.create_partner(cls.server))

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.cleanup()

    def test_a_full_store_is_counted_by_store_and_kind(self):
        with harness.http_session() as http:
            resp = http.post(self.server.api_url + GENERATE,
                             headers={"Authorization": f"Bearer {self.token}"},
                             json={"filesize": 1000, "filetype": "mp3"}, timeout=harness.TIMEOUT)
            self.assertEqual(resp.status_code, 507)
            samples = parse(http.get(self.server.base_url + "/metrics",
                                     timeout=harness.TIMEOUT).text)
        self.assertEqual(value(samples, "audiodrop_store_errors_total", store="objects",
                               kind="storage_full"), 1)
        self.assertEqual(sum(v for (name, _), v in samples.items()
                             if name == "audiodrop_store_errors_total"), 1)
        self.assertEqual(value(samples, "audiodrop_http_requests_total", listener="api",
                               route=GENERATE, method="POST", status="507"), 1)


class RefusalMetricsTest(unittest.TestCase):
    """What a listener turns away before any route sees a request: a connection over the
    per-address cap (429) and a request that is not HTTP (400) are counted by listener,
    since they never reach the request counters."""

    PER_ADDRESS = 2

    def test_refused_connections_and_rejected_requests_are_counted_by_listener(self):
        with harness.Server("--max-connections-per-address", self.PER_ADDRESS) as server:
            held = []
            try:
                for _ in range(self.PER_ADDRESS):
                    sock = socket.create_connection(("127.0.0.1", server.port),
                                                    timeout=harness.TIMEOUT,
                                                    source_address=("127.0.0.2", 0))
                    held.append(sock)
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
                    self.assertTrue(sock.recv(4096).startswith(b"HTTP/1.1 200 "))
                with socket.create_connection(("127.0.0.1", server.port),
                                              timeout=harness.TIMEOUT,
                                              source_address=("127.0.0.2", 0)) as refused:
                    self.assertTrue(refused.recv(4096).startswith(b"HTTP/1.1 429 "))
            finally:
                for sock in held:
                    sock.close()
            with socket.create_connection(("127.0.0.1", server.storage_port),
                                          timeout=harness.TIMEOUT) as garbage:
                garbage.sendall(b"NOT HTTP AT ALL\r\n\r\n")
                self.assertTrue(garbage.recv(4096).startswith(b"HTTP/1.1 400 "))
            with harness.http_session() as http:
                samples = parse(http.get(server.base_url + "/metrics",
                                         timeout=harness.TIMEOUT).text)
        refused = "audiodrop_connections_refused_total"
        self.assertEqual(value(samples, refused, listener="api", reason="address_limit"), 1)
        self.assertEqual(value(samples, refused, listener="api", reason="server_limit"), 0)
        self.assertEqual(value(samples, refused, listener="storage", reason="address_limit"), 0)
        rejected = "audiodrop_requests_rejected_total"
        self.assertEqual(value(samples, rejected, listener="storage"), 1)
        self.assertEqual(value(samples, rejected, listener="api"), 0)
        self.assertEqual(value(samples, "audiodrop_tls_handshakes_failed_total",
                               listener="api"), 0)


if __name__ == "__main__":
    harness.main()
