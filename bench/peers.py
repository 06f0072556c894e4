#!/usr/bin/python3
"""audiodrop beside peer upload servers: one machine, one file, one disk, one run.

Every figure is printed beside the peer or baseline it is judged against, measured in
the same run on the same file, with the ratio between the two:

  baselines  dd conv=fsync, md5sum and openssl md5 of the file, against `audiodrop
             upload --parallel 4` of it
  tus        tus-js-client -> @tus/server + @tus/file-store (one PATCH streamed from disk)
  s3rver     boto3 multipart upload to s3rver, 5 MiB parts PUT from 4 threads through
             presigned URLs
  cli        `audiodrop upload --parallel 1` against tus (both one connection)
  complete   complete-upload of the whole file, against md5sum of the same bytes
  create     generate-presigned-urls against tus creation (POST /files) under wrk
  cpu        audiodrop-server CPU seconds to ingest the file, against openssl md5's
  healthz    /healthz latency while uploads and then completes run, against idle
  rss        server RSS with 1,000 part PUTs trickling in at 10 KiB/s, against idle
  s3         complete-upload on a replica with PostgreSQL + Ceph RGW, against GET + MD5
             of the same object from the same RGW

Everything listens on 127.0.0.1. The file, tus's and s3rver's directories and
audiodrop's data dir share one work dir on one file system (under build/). Timed
figures are medians of --runs runs, after one untimed warm-up run where the file is
written to disk; `sync` runs before each run so that one run's dirty pages are not
written back during the next.

usage: bench/peers.py [--mib 1024] [--runs 3] [--only ROW,...] [--skip-s3] [--json FILE]
(bench/peers.sh installs the peers and tools first, then runs this.)
"""
import argparse
import asyncio
import contextlib
import http.client
import json
import math
import multiprocessing
import os
import platform
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
PEERS_DIR = os.path.join(HERE, "peers")
sys.path.insert(0, os.path.join(ROOT, "tests", "integration"))
import harness  # noqa: E402
from bench_support import get_and_md5, md5_of_prefix, write_random_file  # noqa: E402

MiB = 1024 * 1024
PART = 5 * MiB
CREATE_FILESIZE = 10 * MiB  # the upload the creation-rate rows announce
S3_MIB = 256  # size of the upload completed on Ceph RGW
S3RVER_BUCKET = "bench"
# A benchmark is one partner making tens of thousands of uploads at full speed: no
# per-user, per-partner or request-rate limit may stand in its way.
QUOTA = ("--max-open-uploads-per-user", "1000000", "--max-open-uploads-per-partner", "1000000",
         "--max-open-bytes-per-partner", str(1 << 60), "--partner-requests-per-minute", "0")

ROWS = ("baselines", "tus", "s3rver", "cli", "complete", "create", "cpu", "healthz", "rss",
        "s3")
# Order of execution: the creation-rate row leaves tens of thousands of open uploads
# behind, so it runs after the rows that look at the server's CPU, latency and memory.
EXECUTION_ORDER = ("baselines", "tus", "s3rver", "cli", "complete", "cpu", "healthz", "rss",
                   "create", "s3")

HEALTHZ_INTERVAL = 0.005  # seconds between /healthz probes
IDLE_PROBE_SECONDS = 2.0
TRICKLE_CONNECTIONS = 1000
TRICKLE_BYTES = 10 * 1024  # sent by each connection every second
TRICKLE_SECONDS = 20
RSS_SAMPLE_INTERVAL = 0.1

START = time.monotonic()


# Progress (stderr) -------------------------------------------------------------------
def log(message):
    print(f"[peers {time.monotonic() - START:7.1f}s] {message}", file=sys.stderr, flush=True)


@contextlib.contextmanager
def section(name):
    log(f"{name} ...")
    began = time.monotonic()
    try:
        yield
    finally:
        log(f"{name}: {time.monotonic() - began:.1f} s")


# Small helpers -----------------------------------------------------------------------
def median(values):
    return statistics.median(values)


def percentile(values, p):
    """Nearest-rank percentile of a non-empty list."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(p / 100 * len(ordered)) - 1)]


def brief(value):
    """A result for the progress log, floats cut to 3 decimals."""
    if isinstance(value, float):
        return round(value, 3)
    if isinstance(value, dict):
        return {k: brief(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(brief(v) for v in value)
    return value


def megabytes_per_second(size, seconds):
    return size / 1e6 / seconds


def read_part(path, offset, length):
    """One part as bytes (5 MiB at most): the file itself is never read whole."""
    with open(path, "rb") as f:
        return os.pread(f.fileno(), length, offset)


def timed_command(argv, timeout=900, **kw):
    """Wall seconds of a command that must succeed; its stdout is returned too."""
    began = time.perf_counter()
    done = subprocess.run(argv, check=True, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                          timeout=timeout, **kw)
    return time.perf_counter() - began, done.stdout


def flush_dirty_pages():
    os.sync()


def process_cpu_seconds(pid):
    """utime + stime of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    # fields[0] is the state (field 3 of stat(5)); utime and stime are fields 14 and 15.
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def process_rss_mib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


def raise_open_files_limit():
    """1,000 trickling connections need more descriptors than a soft limit of 1,024;
    the server started after this inherits the raised limit too."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


# Node peers --------------------------------------------------------------------------
class NodeService:
    """A Node program that prints {"port": N} once it listens; it runs in its own
    process group, which close() kills."""

    def __init__(self, script, *args, log_path):
        self.log_file = open(log_path, "wb")
        self.proc = subprocess.Popen(["node", os.path.join(PEERS_DIR, script), *args],
                                     cwd=PEERS_DIR, stdin=subprocess.DEVNULL,
                                     stdout=subprocess.PIPE, stderr=self.log_file,
                                     start_new_session=True)
        self.port = self._read_port(timeout=30)

    def _read_port(self, timeout):
        result = {}

        def read_line():
            result["line"] = self.proc.stdout.readline()

        reader = threading.Thread(target=read_line, daemon=True)
        reader.start()
        reader.join(timeout)
        line = result.get("line", b"")
        if not line:
            self.close()
            raise RuntimeError(f"{self.proc.args[1]} printed no port within {timeout} s; "
                               f"see {self.log_file.name}")
        return json.loads(line)["port"]

    def close(self):
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=5)
        self.proc.stdout.close()
        self.log_file.close()


def node_version():
    return subprocess.run(["node", "--version"], capture_output=True, text=True,
                          timeout=30).stdout.strip()


# HTTP part PUTs ----------------------------------------------------------------------
def put_part(session, url, path, offset, length):
    """PUTs one part read from the file; returns the ETag."""
    resp = session.put(url, data=read_part(path, offset, length), timeout=300)
    if resp.status_code != 200:
        raise RuntimeError(f"PUT part answered {resp.status_code}: {resp.text[:300]}")
    return resp.headers["ETag"]


def put_parts_in_order(urls, path, size, threads):
    """PUTs part 1, 2, 3, ... of the file to `urls` (one per part, in order) from
    `threads` workers that each take the next part not yet taken; returns the ETags."""
    etags = [None] * len(urls)
    next_part = iter(range(len(urls)))
    lock = threading.Lock()

    def worker():
        with harness.http_session() as session:  # one keep-alive connection per worker
            while True:
                with lock:
                    index = next(next_part, None)
                if index is None:
                    return
                offset = index * PART
                etags[index] = put_part(session, urls[index], path, offset,
                                        min(PART, size - offset))

    with ThreadPoolExecutor(threads) as pool:
        for future in [pool.submit(worker) for _ in range(threads)]:
            future.result()
    return etags


# audiodrop ---------------------------------------------------------------------------
class Audiodrop:
    """The built audiodrop-server (through the integration harness) with one partner."""

    def __init__(self, data_dir):
        self.server = harness.Server(*QUOTA, data_dir=data_dir)
        self.api = harness.Api(self.server)
        try:
            self.server.start()
            self.partner = harness.create_partner(self.server)
            self.token = self.api.new_user(self.partner)
        except BaseException:
            self.close(failed=True)
            raise

    @property
    def pid(self):
        return self.server.proc.pid

    def user_tokens(self, count):
        partner_token = self.api.partner_tokens(self.partner)["access_token"]
        return [self.api.user_token(partner_token) for _ in range(count)]

    def start_upload(self, size):
        return self.api.start_upload(self.token, size)

    def part_urls(self, plan):
        if plan["ChunkSize"] != PART:
            raise RuntimeError(f"ChunkSize {plan['ChunkSize']}, expected {PART}")
        return [p["PresignedUrl"] for p in sorted(plan["Parts"], key=lambda p: p["PartNumber"])]

    def complete(self, plan, etags, file_md5, api=None):
        part_list = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, 1)]
        resp = (api or self.api).complete(self.token, plan["FileId"], plan["UploadId"],
                                          part_list, file_md5=file_md5)
        if resp.status_code != 200:
            raise RuntimeError(f"complete-upload answered {resp.status_code}: {resp.text[:500]}")
        if resp.json()["FileMd5"] != file_md5:
            raise RuntimeError(f"FileMd5 {resp.json()['FileMd5']} != {file_md5}")
        return resp.json()

    def delete(self, file_id):
        resp = self.api.delete_file(self.token, file_id)
        if resp.status_code != 200:
            raise RuntimeError(f"DELETE file answered {resp.status_code}: {resp.text[:300]}")

    def abort(self, plan):
        self.api.abort(self.token, plan["FileId"], plan["UploadId"])

    def warm_api(self, api=None):
        """A request first, so that a timed one reuses an open connection."""
        (api or self.api).http.get(self.server.base_url + "/healthz",
                                   timeout=harness.TIMEOUT).raise_for_status()

    def healthy(self):
        try:
            return self.api.http.get(self.server.base_url + "/healthz",
                                     timeout=10).status_code == 200
        except harness.requests.RequestException:
            return False

    def close(self, failed):
        self.api.close()
        try:
            if failed or not self.server.running():
                self.server.kill9()
            else:
                self.server.stop()
        finally:
            self.server.cleanup()


# /healthz probe ----------------------------------------------------------------------
def probe_healthz(port, stop, results, max_seconds):
    """Runs in its own process, so that the GIL of the threads driving the load does not
    add to the latencies it records. GETs /healthz over one keep-alive connection every
    HEALTHZ_INTERVAL; sends back [(monotonic start, seconds, status)] when `stop` is set."""
    samples = []
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    began = time.monotonic()
    tick = began
    while not stop.is_set() and time.monotonic() - began < max_seconds:
        sent = time.monotonic()
        try:
            conn.request("GET", "/healthz")
            resp = conn.getresponse()
            resp.read()
            status = resp.status
        except (OSError, http.client.HTTPException):
            status = 0
            conn.close()
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        samples.append((sent, time.monotonic() - sent, status))
        tick += HEALTHZ_INTERVAL
        now = time.monotonic()
        if tick < now:  # a slow answer: the missed ticks are skipped, not bunched up
            tick = now
        time.sleep(tick - now)
    conn.close()
    results.send(samples)
    results.close()


class HealthzProbe:
    def __init__(self, port, max_seconds=1800):
        context = multiprocessing.get_context("fork")  # started before any worker thread
        self._stop = context.Event()
        self._receive, send = context.Pipe(duplex=False)
        self._proc = context.Process(target=probe_healthz,
                                     args=(port, self._stop, send, max_seconds), daemon=True)
        self._proc.start()
        send.close()

    def finish(self):
        self._stop.set()
        if not self._receive.poll(60):
            raise RuntimeError("/healthz probe sent nothing back")
        samples = self._receive.recv()
        self._proc.join(10)
        return samples

    def close(self):
        if self._proc.is_alive():
            self._proc.terminate()
            self._proc.join(10)
        self._receive.close()


def window_stats(samples, began, ended):
    """Latency p50/p99/max (ms) of the probes sent in [began, ended]; failures counted."""
    inside = [(lat, status) for sent, lat, status in samples if began <= sent <= ended]
    latencies = [lat * 1000 for lat, status in inside if status == 200]
    failed = sum(1 for _, status in inside if status != 200)
    if not latencies:
        return {"probes": len(inside), "failed": failed, "p50": None, "p99": None, "max": None}
    return {"probes": len(inside), "failed": failed, "p50": percentile(latencies, 50),
            "p99": percentile(latencies, 99), "max": max(latencies)}


# wrk ---------------------------------------------------------------------------------
def lua_string(text):
    """A Lua string literal; anything but plain characters as a 3-digit decimal escape."""
    return '"' + "".join(c if c.isascii() and (c.isalnum() or c in " {}:,._-/=+") else
                         "".join(f"\\{b:03d}" for b in c.encode()) for c in text) + '"'


def wrk_script(path, requests_):
    """A wrk script cycling through prepared requests [(method, path, headers, body)].
    Both peers get the same script shape, so wrk does the same work per request. The
    requests are formatted in init(): wrk sets the Host header only just before it."""
    lines = ["local prepared = {}", "init = function(args)"]
    for method, target, headers, body in requests_:
        header_table = ", ".join(f"[{lua_string(k)}] = {lua_string(v)}"
                                 for k, v in headers.items())
        lua_body = lua_string(body) if body is not None else "nil"
        lines.append(f"  prepared[#prepared + 1] = wrk.format({lua_string(method)}, "
                     f"{lua_string(target)}, {{{header_table}}}, {lua_body})")
    lines += ["end",
              "local n = 0",
              "request = function()",
              "  n = n % #prepared + 1",
              "  return prepared[n]",
              "end"]
    with open(path, "w") as f:
        f.write("\n".join(lines) + "\n")


def parse_duration_ms(text):
    value, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000, "m": 60000}[unit]


def run_wrk(url, script, seconds=10):
    out = subprocess.run(["wrk", "-t2", "-c64", f"-d{seconds}s", "--latency", "-s", script, url],
                         capture_output=True, text=True, timeout=seconds + 60,
                         stdin=subprocess.DEVNULL)
    if out.returncode != 0:
        raise RuntimeError(f"wrk exited {out.returncode}: {out.stderr}")
    text = out.stdout
    rate = float(re.search(r"Requests/sec:\s*([\d.]+)", text).group(1))
    p99 = parse_duration_ms(re.search(r"^\s*99%\s+(\S+)", text, re.M).group(1))
    total = int(re.search(r"(\d+) requests in", text).group(1))
    bad_status = re.search(r"Non-2xx or 3xx responses:\s*(\d+)", text)
    sockets = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)",
                        text)
    return {"rps": rate, "p99_ms": p99, "requests": total,
            "non_2xx": int(bad_status.group(1)) if bad_status else 0,
            "socket_errors": sum(map(int, sockets.groups())) if sockets else 0}


def tool_version(argv):
    try:
        out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
        return (out.stdout or out.stderr).strip().splitlines()[0]
    except (OSError, IndexError, subprocess.SubprocessError):
        return "?"


# The measurements --------------------------------------------------------------------
class Bench:
    """Each measurement runs once, when a row first needs it, and is kept; services
    start when first needed and stop when the run ends."""

    def __init__(self, args, work, stack):
        self.args = args
        self.work = work
        self.stack = stack
        self.size = args.mib * MiB
        self.file = os.path.join(work, "recording.bin")
        self._cache = {}
        self._failed = False
        self.raw = {}

    def measured(self, key):
        return key in self._cache

    def once(self, key, measure):
        if key not in self._cache:
            self._cache[key] = measure()
        return self._cache[key]

    def dir(self, name):
        path = os.path.join(self.work, name)
        os.makedirs(path, exist_ok=True)
        return path

    # The file ----------------------------------------------------------------------
    def file_md5(self):
        def make():
            with section(f"writing {self.args.mib} MiB of random bytes"):
                return write_random_file(self.file, self.size)
        return self.once("file", make)

    def runs(self, name, measure_one, warm_up=False):
        """`measure_one(i)` for i = 1..--runs, each after a sync; the list of results.

        warm_up: one untimed run first (i = 0). On a thinly provisioned virtual disk the
        first write to blocks never written before is several times slower than any
        later one (dd of 1 GiB: 3 s, then 0.9 s); without it, whoever writes first in a
        fresh directory pays for that."""
        if warm_up:
            flush_dirty_pages()
            log(f"  {name} warm-up (not counted): {brief(measure_one(0))}")
        results = []
        for i in range(1, self.args.runs + 1):
            flush_dirty_pages()
            results.append(measure_one(i))
            log(f"  {name} run {i}/{self.args.runs}: {brief(results[-1])}")
        self.raw[name] = results
        return results

    def interleaved_runs(self, name, measures):
        """Like runs(), for several {label: measure_one}, one run of each in turn."""
        results = {label: [] for label in measures}
        for i in range(self.args.runs):
            for label, measure_one in measures.items():
                flush_dirty_pages()
                results[label].append(measure_one(i))
                log(f"  {name} {label} run {i + 1}/{self.args.runs}: "
                    f"{brief(results[label][-1])}")
        for label, values in results.items():
            self.raw[f"{name} {label}"] = values
        return results

    # Services ----------------------------------------------------------------------
    def audiodrop(self):
        def start():
            with section("starting audiodrop-server"):
                server = Audiodrop(self.dir("audiodrop-data"))
                self.on_exit("audiodrop-server", lambda: server.close(self._failed))
                return server
        return self.once("audiodrop", start)

    def tus_server(self):
        def start():
            service = NodeService("tus-server.mjs", self.dir("tus-data"),
                                  log_path=os.path.join(self.work, "tus-server.log"))
            self.on_exit("tus server", service.close)
            return service
        return self.once("tus-server", start)

    def s3rver(self):
        def start():
            service = NodeService("s3rver.mjs", self.dir("s3rver-data"), S3RVER_BUCKET,
                                  log_path=os.path.join(self.work, "s3rver.log"))
            self.on_exit("s3rver", service.close)
            return service
        return self.once("s3rver", start)

    def on_exit(self, name, close):
        """Stops a service when the run ends, saying how long that took."""
        def timed_close():
            began = time.monotonic()
            close()
            log(f"stopped {name}: {time.monotonic() - began:.1f} s")
        self.stack.callback(timed_close)

    def mark_failed(self):
        self._failed = True

    # Baselines ---------------------------------------------------------------------
    def dd_seconds(self):
        def measure_one(_):
            copy = os.path.join(self.work, "copy.bin")
            seconds, _ = timed_command(["dd", f"if={self.file}", f"of={copy}", "bs=4M",
                                        "conv=fsync", "status=none"])
            os.unlink(copy)
            return seconds

        def measure():
            self.file_md5()
            with section("baseline: dd conv=fsync"):
                return median(self.runs("dd", measure_one, warm_up=True))
        return self.once("dd", measure)

    def md5sum_seconds(self):
        def measure_one(_):
            seconds, out = timed_command(["md5sum", self.file])
            if out.split()[0].decode() != self.file_md5():
                raise RuntimeError("md5sum disagrees with the MD5 of the written file")
            return seconds

        def measure():
            self.file_md5()
            with section("baseline: md5sum"):
                return median(self.runs("md5sum", measure_one))
        return self.once("md5sum", measure)

    def openssl_md5(self):
        """(wall seconds, CPU seconds user+sys), medians; CPU from the child's rusage."""
        def measure_one(_):
            began = time.perf_counter()
            proc = subprocess.Popen(["openssl", "md5", self.file], stdout=subprocess.PIPE,
                                    stdin=subprocess.DEVNULL)
            try:
                out = proc.stdout.read()
                _, status, usage = os.wait4(proc.pid, 0)
            except BaseException:
                proc.kill()
                raise
            proc.returncode = os.waitstatus_to_exitcode(status)
            proc.stdout.close()
            seconds = time.perf_counter() - began
            if proc.returncode != 0 or self.file_md5() not in out.decode():
                raise RuntimeError(f"openssl md5 failed: {proc.returncode} {out!r}")
            return seconds, usage.ru_utime + usage.ru_stime

        def measure():
            self.file_md5()
            with section("baseline: openssl md5"):
                results = self.runs("openssl md5", measure_one)
                return median(r[0] for r in results), median(r[1] for r in results)
        return self.once("openssl", measure)

    # Peers -------------------------------------------------------------------------
    def tus_seconds(self):
        """tus-js-client's own clock, from the creation POST to the last byte's answer."""
        def measure_one(_):
            endpoint = f"http://127.0.0.1:{self.tus_server().port}/files"
            _, out = timed_command(["node", os.path.join(PEERS_DIR, "tus-upload.mjs"), endpoint,
                                    self.file], cwd=PEERS_DIR)
            result = json.loads(out)
            stored = os.path.join(self.dir("tus-data"), result["url"].rsplit("/", 1)[1])
            if os.path.getsize(stored) != self.size:
                raise RuntimeError(f"tus stored {os.path.getsize(stored)} bytes")
            os.unlink(stored)
            os.unlink(stored + ".json")
            return result["seconds"]

        def measure():
            self.file_md5()
            self.tus_server()
            with section("tus-js-client -> @tus/server"):
                return median(self.runs("tus", measure_one, warm_up=True))
        return self.once("tus", measure)

    def s3rver_seconds(self):
        """boto3 create + presign, 4 threads PUT 5 MiB parts with requests, complete."""
        def measure_one(i):
            s3 = self.s3rver_client()
            key = f"recording-{i}.bin"
            parts = math.ceil(self.size / PART)
            began = time.perf_counter()
            upload_id = s3.create_multipart_upload(Bucket=S3RVER_BUCKET, Key=key)["UploadId"]
            urls = [s3.generate_presigned_url(
                "upload_part", ExpiresIn=3600,
                Params={"Bucket": S3RVER_BUCKET, "Key": key, "UploadId": upload_id,
                        "PartNumber": n}) for n in range(1, parts + 1)]
            etags = put_parts_in_order(urls, self.file, self.size, threads=4)
            s3.complete_multipart_upload(
                Bucket=S3RVER_BUCKET, Key=key, UploadId=upload_id,
                MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                           for n, e in enumerate(etags, 1)]})
            seconds = time.perf_counter() - began
            length = s3.head_object(Bucket=S3RVER_BUCKET, Key=key)["ContentLength"]
            if length != self.size:
                raise RuntimeError(f"s3rver stored {length} bytes")
            s3.delete_object(Bucket=S3RVER_BUCKET, Key=key)
            return seconds

        def measure():
            self.file_md5()
            self.s3rver()
            with section("boto3 + requests -> s3rver multipart"):
                return median(self.runs("s3rver", measure_one, warm_up=True))
        return self.once("s3rver-upload", measure)

    def s3rver_client(self):
        import boto3
        from botocore.config import Config
        return self.once("s3rver-client", lambda: boto3.session.Session().client(
            "s3", endpoint_url=f"http://127.0.0.1:{self.s3rver().port}",
            aws_access_key_id="S3RVER", aws_secret_access_key="S3RVER", region_name="us-east-1",
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}, connect_timeout=10, read_timeout=300)))

    # audiodrop -----------------------------------------------------------------------
    def cli_seconds(self, parallel):
        """`audiodrop upload` end to end: generate, every PUT, complete with file_md5."""
        def measure_one(_):
            server = self.audiodrop()
            cli = harness.built_binary("AUDIODROP_CLI", "audiodrop")
            env = dict(os.environ, AUDIODROP_TOKEN=server.token)
            seconds, out = timed_command(
                [cli, "upload", self.file, "--endpoint", server.server.api_url,
                 "--parallel", str(parallel), "--quiet", "--no-resume", "--json"], env=env)
            result = json.loads(out)
            if result["FileMd5"] != self.file_md5():
                raise RuntimeError(f"CLI upload ended with FileMd5 {result['FileMd5']}")
            server.delete(result["FileId"])
            return seconds

        def measure():
            self.file_md5()
            self.audiodrop()
            with section(f"audiodrop upload --parallel {parallel}"):
                return median(self.runs(f"cli -p{parallel}", measure_one, warm_up=True))
        return self.once(f"cli-{parallel}", measure)

    def ingest(self, threads=4):
        """generate + PUT every part from `threads` workers, in order; (plan, etags)."""
        plan = self.audiodrop().start_upload(self.size)
        return plan, self.put_file(plan, threads)

    def put_file(self, plan, threads):
        urls = self.audiodrop().part_urls(plan)
        return put_parts_in_order(urls, self.file, self.size, threads)

    def complete_seconds(self):
        """Only the complete-upload POST, after every part is in."""
        def measure_one(_):
            server = self.audiodrop()
            plan, etags = self.ingest()
            flush_dirty_pages()  # the parts' writes, not the complete's, are behind us
            server.warm_api()
            began = time.perf_counter()
            result = server.complete(plan, etags, self.file_md5())
            seconds = time.perf_counter() - began
            server.delete(result["FileId"])
            return round(seconds * 1000, 1)

        def measure():
            self.file_md5()
            with section("complete-upload latency"):
                return median(self.runs("complete ms", measure_one, warm_up=True)) / 1000
        return self.once("complete", measure)

    def server_cpu_seconds(self):
        """audiodrop-server's utime+stime over one ingest (generate, PUTs, complete)."""
        def measure_one(_):
            server = self.audiodrop()
            before = process_cpu_seconds(server.pid)
            plan, etags = self.ingest()
            result = server.complete(plan, etags, self.file_md5())
            cpu = process_cpu_seconds(server.pid) - before
            server.delete(result["FileId"])
            return round(cpu, 2)

        def measure():
            self.file_md5()
            self.audiodrop()
            with section("server CPU per ingest"):
                return median(self.runs("server cpu s", measure_one, warm_up=True))
        return self.once("cpu", measure)

    def healthz_under_load(self, uploads=4, threads_each=4):
        """/healthz latency: idle, during `uploads` concurrent uploads of the file (each
        from `threads_each` PUT threads), during their completes run concurrently."""
        def measure_one(_):
            server = self.audiodrop()
            apis = [harness.Api(server.server) for _ in range(uploads)]
            plans = [server.start_upload(self.size) for _ in range(uploads)]
            probe = HealthzProbe(server.server.port)
            try:
                idle_began = time.monotonic()
                time.sleep(IDLE_PROBE_SECONDS)
                idle_ended = load_began = time.monotonic()
                with ThreadPoolExecutor(uploads) as pool:
                    etags = list(pool.map(lambda plan: self.put_file(plan, threads_each),
                                          plans))
                load_ended = time.monotonic()
                for api in apis:
                    server.warm_api(api)
                complete_began = time.monotonic()
                with ThreadPoolExecutor(uploads) as pool:
                    results = list(pool.map(
                        lambda job: server.complete(job[0], job[1], self.file_md5(), api=job[2]),
                        zip(plans, etags, apis)))
                complete_ended = time.monotonic()
                samples = probe.finish()
            finally:
                probe.close()
                for api in apis:
                    api.close()
            for result in results:
                server.delete(result["FileId"])
            return {"idle": window_stats(samples, idle_began, idle_ended),
                    "uploads": window_stats(samples, load_began, load_ended),
                    "completes": window_stats(samples, complete_began, complete_ended)}

        def measure():
            self.file_md5()
            self.audiodrop()
            with section(f"/healthz under {uploads} uploads x {threads_each} PUT threads"):
                results = self.runs("healthz", measure_one)
            summary = {}
            for phase in ("idle", "uploads", "completes"):
                stats = [r[phase] for r in results]
                valid = [s for s in stats if s["p99"] is not None]
                summary[phase] = {
                    "probes": sum(s["probes"] for s in stats),
                    "failed": sum(s["failed"] for s in stats),
                    **{k: median(s[k] for s in valid) if valid else None
                       for k in ("p50", "p99", "max")}}
            summary["shape"] = f"{uploads} uploads x {threads_each} PUT threads"
            return summary
        return self.once("healthz", measure)

    def trickle_rss(self):
        """Peak VmRSS while TRICKLE_CONNECTIONS part PUTs announce 5 MiB and send
        TRICKLE_BYTES a second, against the RSS just before they connect."""
        def measure():
            server = self.audiodrop()
            parts_each = 200
            plans = [server.start_upload(parts_each * PART)
                     for _ in range(math.ceil(TRICKLE_CONNECTIONS / parts_each))]
            urls = [u for plan in plans for u in server.part_urls(plan)][:TRICKLE_CONNECTIONS]
            with section(f"RSS with {len(urls)} trickling part PUTs for {TRICKLE_SECONDS} s"):
                sampler = RssSampler(server.pid)
                try:
                    time.sleep(1)
                    baseline = sampler.peak_since_start()
                    sampler.reset()
                    report = asyncio.run(trickle(urls, TRICKLE_SECONDS))
                finally:
                    peak = sampler.stop()
                healthy = wait_healthy(server)
            for plan in plans:
                server.abort(plan)
            result = {"baseline_mib": baseline, "peak_mib": peak, "healthy_after": healthy,
                      **report}
            self.raw["rss"] = result
            log(f"  rss: {brief(result)}")
            return result
        return self.once("rss", measure)

    def creation_rates(self):
        """wrk -t2 -c64 -d10s: generate-presigned-urls (64 users in turn) and tus POST."""
        def measure():
            server = self.audiodrop()
            tus = self.tus_server()
            tokens = server.user_tokens(64)
            body = json.dumps({"filesize": CREATE_FILESIZE, "filetype": "mp3"},
                              separators=(",", ":"))
            path = harness.BASE_PATH + "/open/partner/files/upload/generate-presigned-urls"
            ours = os.path.join(self.work, "create-audiodrop.lua")
            wrk_script(ours, [("POST", path, {"Authorization": "Bearer " + t,
                                              "Content-Type": "application/json"}, body)
                              for t in tokens])
            theirs = os.path.join(self.work, "create-tus.lua")
            wrk_script(theirs, [("POST", "/files", {"Tus-Resumable": "1.0.0",
                                                    "Upload-Length": str(CREATE_FILESIZE)},
                                 None)])
            targets = {"tus": (f"http://127.0.0.1:{tus.port}", theirs),
                       "audiodrop": (server.server.base_url, ours)}
            with section("creation rate under wrk"):
                # Turn about, so that a drift of the machine weighs on both alike.
                runs = self.interleaved_runs("wrk", {
                    name: (lambda _, url=url, script=script: run_wrk(url, script))
                    for name, (url, script) in targets.items()})
            results = {}
            for name, measured in runs.items():
                results[name] = {
                    "rps": median(r["rps"] for r in measured),
                    "p99_ms": median(r["p99_ms"] for r in measured),
                    "errors": sum(r["non_2xx"] + r["socket_errors"] for r in measured)}
                if results[name]["errors"]:
                    log(f"!!! INVALID: wrk against {name} saw {results[name]['errors']} "
                        "non-2xx responses or socket errors; its figures do not count")
            return results
        return self.once("create", measure)

    def s3_complete(self):
        """On PostgreSQL + Ceph RGW: complete-upload of S3_MIB against GET + MD5 of the
        object it made, from the same RGW, in the same run."""
        def measure():
            self.file_md5()
            size = min(S3_MIB, self.args.mib) * MiB
            prefix_md5 = md5_of_prefix(self.file, size)
            sys.path.insert(0, os.path.join(ROOT, "tests", "scaleout"))
            import scaleout_harness as sh
            with section("starting PostgreSQL + Ceph RGW"):
                backends = sh.Backends().start()
            try:
                with section("S3 complete vs GET + MD5"):
                    return self._s3_runs(backends, size, prefix_md5)
            finally:
                backends.stop()
        return self.once("s3", measure)

    def _s3_runs(self, backends, size, file_md5):
        replica = backends.replica(*QUOTA)
        replica.start()
        failed = True
        try:
            api = harness.Api(replica)
            token = api.new_user(harness.create_partner(replica))

            def measure_one(_):
                plan = api.start_upload(token, size)
                urls = [p["PresignedUrl"]
                        for p in sorted(plan["Parts"], key=lambda p: p["PartNumber"])]
                etags = put_parts_in_order(urls, self.file, size, threads=4)
                parts = [{"PartNumber": n, "ETag": e} for n, e in enumerate(etags, 1)]
                api.http.get(replica.base_url + "/healthz", timeout=10)
                began = time.perf_counter()
                resp = api.complete(token, plan["FileId"], plan["UploadId"], parts,
                                    file_md5=file_md5)
                complete_s = time.perf_counter() - began
                if resp.status_code != 200:
                    raise RuntimeError(f"complete on S3 answered {resp.status_code}: "
                                       f"{resp.text[:500]}")
                read_s, md5 = get_and_md5(resp.json()["DownloadUrl"])
                if md5 != file_md5 or resp.json()["FileMd5"] != file_md5:
                    raise RuntimeError("the object on RGW does not hold the file")
                api.delete_file(token, plan["FileId"])
                return round(complete_s, 3), round(read_s, 3)

            results = self.runs("s3 (complete s, GET+MD5 s)", measure_one)
            api.close()
            failed = False
            return {"size": size, "complete_s": median(r[0] for r in results),
                    "read_s": median(r[1] for r in results)}
        finally:
            if failed:
                replica.kill9()
            else:
                replica.stop()
            replica.cleanup()


def wait_healthy(server, tries=50, interval=0.2):
    for _ in range(tries):
        if server.healthy():
            return True
        if not server.server.running():
            return False
        time.sleep(interval)
    return False


# Memory under slow clients -----------------------------------------------------------
class RssSampler:
    """Samples a process's VmRSS every RSS_SAMPLE_INTERVAL in a thread; keeps the peak."""

    def __init__(self, pid, max_seconds=600):
        self.pid = pid
        self.peak = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(max_seconds,), daemon=True)
        self._thread.start()

    def _run(self, max_seconds):
        deadline = time.monotonic() + max_seconds
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                rss = process_rss_mib(self.pid)
            except (OSError, RuntimeError):
                return  # the process is gone
            with self._lock:
                self.peak = max(self.peak, rss)
            self._stop.wait(RSS_SAMPLE_INTERVAL)

    def peak_since_start(self):
        with self._lock:
            return self.peak

    def reset(self):
        with self._lock:
            self.peak = 0.0

    def stop(self):
        self._stop.set()
        self._thread.join(10)
        return self.peak


async def trickle(urls, seconds):
    """Each URL gets a PUT announcing a whole part whose body then comes TRICKLE_BYTES a
    second. Returns how many connected, and how many the server answered or closed
    before the end (those did not hold their memory the whole time)."""
    connect_slots = asyncio.Semaphore(64)  # a burst of 1,000 SYNs would overflow backlogs

    async def open_one(url):
        u = urllib.parse.urlsplit(url)
        async with connect_slots:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection(u.hostname, u.port), timeout=10)
        writer.write((f"PUT {u.path}?{u.query} HTTP/1.1\r\nHost: {u.netloc}\r\n"
                      f"Content-Length: {PART}\r\n\r\n").encode())
        return reader, writer

    opened = await asyncio.gather(*(open_one(url) for url in urls), return_exceptions=True)
    connections = [c for c in opened if not isinstance(c, BaseException)]
    watchers = [asyncio.ensure_future(reader.read(1)) for reader, _ in connections]
    chunk = b"\0" * TRICKLE_BYTES
    try:
        for _ in range(seconds):
            tick = asyncio.get_running_loop().time()
            for (_, writer), watcher in zip(connections, watchers):
                if not watcher.done():
                    writer.write(chunk)
            # A connection whose buffers are full stays behind; it is not waited for long.
            drains = [asyncio.ensure_future(w.drain()) for _, w in connections]
            _, pending = await asyncio.wait(drains, timeout=5)
            for drain in pending:
                drain.cancel()
            await asyncio.sleep(max(0.0, 1 - (asyncio.get_running_loop().time() - tick)))
        answered_early = sum(1 for w in watchers if w.done())
    finally:
        for watcher in watchers:
            watcher.cancel()
        for _, writer in connections:
            writer.transport.abort()
        await asyncio.gather(*watchers, return_exceptions=True)
    return {"connected": len(connections), "failed_to_connect": len(urls) - len(connections),
            "answered_early": answered_early}


# The table ---------------------------------------------------------------------------
class Row:
    """One figure: audiodrop's value against a peer's or a baseline's, with the ratio
    ours / theirs. `target` is ("ratio" | "value", "<=" | ">=", bound)."""

    def __init__(self, figure, peer, peer_value, ours_value, unit, target=None, invalid=None,
                 digits=1):
        self.figure = figure
        self.peer = peer
        self.peer_value = peer_value
        self.ours_value = ours_value
        self.unit = unit
        self.target = target
        self.invalid = invalid
        self.digits = digits

    @property
    def ratio(self):
        if self.peer_value in (None, 0) or self.ours_value is None:
            return None
        return self.ours_value / self.peer_value

    def met(self):
        if self.invalid:
            return "INVALID"
        if self.target is None:
            return "info"
        kind, op, bound = self.target
        value = self.ratio if kind == "ratio" else self.ours_value
        if value is None:
            return "n/a"
        ok = value <= bound if op == "<=" else value >= bound
        return "yes" if ok else "NO"

    def target_text(self):
        if self.target is None:
            return "-"
        kind, op, bound = self.target
        op = {"<=": "≤", ">=": "≥"}[op]
        return f"{op} {bound:g}x" if kind == "ratio" else f"{op} {bound:g} {self.unit}"

    def value_text(self, value):
        return "-" if value is None else f"{value:.{self.digits}f} {self.unit}"

    def cells(self):
        ratio = "-" if self.ratio is None else f"{self.ratio:.2f}x"
        return [self.figure, f"{self.peer} {self.value_text(self.peer_value)}",
                self.value_text(self.ours_value), ratio, self.target_text(), self.met()]

    def as_json(self):
        return {"figure": self.figure, "peer": self.peer, "peer_value": self.peer_value,
                "audiodrop_value": self.ours_value, "unit": self.unit, "ratio": self.ratio,
                "target": self.target_text(), "met": self.met(), "invalid": self.invalid}


def rows_for(name, bench):
    """The table rows of one ROW name; the measurements they need run here."""
    size = bench.size
    mbps = lambda seconds: megabytes_per_second(size, seconds)  # noqa: E731
    if name == "baselines":
        dd, md5sum, (openssl, _) = bench.dd_seconds(), bench.md5sum_seconds(), bench.openssl_md5()
        cli4 = mbps(bench.cli_seconds(4))
        return [Row("upload vs dd fsync", "dd", mbps(dd), cli4, "MB/s"),
                Row("upload vs md5sum", "md5sum", mbps(md5sum), cli4, "MB/s"),
                Row("upload vs openssl md5", "openssl", mbps(openssl), cli4, "MB/s")]
    if name == "tus":
        return [Row("upload -p4 vs tus", "tus", mbps(bench.tus_seconds()),
                    mbps(bench.cli_seconds(4)), "MB/s", ("ratio", ">=", 1.5))]
    if name == "s3rver":
        return [Row("upload -p4 vs s3rver", "s3rver", mbps(bench.s3rver_seconds()),
                    mbps(bench.cli_seconds(4)), "MB/s", ("ratio", ">=", 3))]
    if name == "cli":
        return [Row("upload -p1 vs tus", "tus", mbps(bench.tus_seconds()),
                    mbps(bench.cli_seconds(1)), "MB/s")]
    if name == "complete":
        return [Row("complete p50", "md5sum", bench.md5sum_seconds() * 1000,
                    bench.complete_seconds() * 1000, "ms", ("value", "<=", 50))]
    if name == "create":
        rates = bench.creation_rates()
        tus, ours = rates["tus"], rates["audiodrop"]
        invalid = None
        if tus["errors"] or ours["errors"]:
            invalid = f"wrk errors: tus {tus['errors']}, audiodrop {ours['errors']}"
        return [Row("create req/s vs tus", "tus", tus["rps"], ours["rps"], "req/s",
                    ("ratio", ">=", 4), invalid, digits=0),
                Row("create p99 vs tus", "tus", tus["p99_ms"], ours["p99_ms"], "ms",
                    ("value", "<=", 25), invalid, digits=2)]
    if name == "cpu":
        _, openssl_cpu = bench.openssl_md5()
        gib = size / 2**30
        return [Row("server CPU vs openssl md5", "openssl", openssl_cpu / gib,
                    bench.server_cpu_seconds() / gib, "CPU s/GiB", ("ratio", "<=", 2.2),
                    digits=2)]
    if name == "healthz":
        h = bench.healthz_under_load()
        rows = []
        for phase in ("uploads", "completes"):
            failed = h[phase]["failed"] + h["idle"]["failed"]
            rows.append(Row(f"healthz p99, {phase}", "idle", h["idle"]["p99"], h[phase]["p99"],
                            "ms", ("value", "<=", 10),
                            f"{failed} probes failed" if failed else None, digits=2))
        return rows
    if name == "rss":
        r = bench.trickle_rss()
        invalid = None
        if not r["healthy_after"]:
            invalid = "server not healthy after the trickle"
        elif r["connected"] < TRICKLE_CONNECTIONS or r["answered_early"]:
            invalid = (f"{r['connected']} of {TRICKLE_CONNECTIONS} connected, "
                       f"{r['answered_early']} answered early")
        return [Row("RSS, 1000 slow PUTs", "idle", r["baseline_mib"], r["peak_mib"], "MiB",
                    ("value", "<=", 256), invalid, digits=0)]
    if name == "s3":
        s3 = bench.s3_complete()
        mb = lambda seconds: megabytes_per_second(s3["size"], seconds)  # noqa: E731
        return [Row(f"S3 complete {s3['size'] // MiB} MiB", "GET+MD5", mb(s3["read_s"]),
                    mb(s3["complete_s"]), "MB/s", ("ratio", ">=", 0.9))]
    raise ValueError(name)


def print_table(rows):
    header = ["figure", "peer or baseline", "audiodrop", "ratio", "target", "met?"]
    table = [header] + [row.cells() for row in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    rule = "-+-".join("-" * w for w in widths)
    for n, line in enumerate(table):
        print(" | ".join(cell.ljust(w) for cell, w in zip(line, widths)).rstrip())
        if n == 0:
            print(rule)


def print_notes(bench, rows):
    size = bench.size
    print()
    print("ratio = audiodrop / peer or baseline; MB/s is 10^6 bytes a second.")
    print(f"file: {size // MiB} MiB of random bytes; medians of {bench.args.runs} run(s), "
          "after an untimed warm-up where the file is written.")
    if bench.measured("openssl"):
        wall, cpu = bench.openssl_md5()
        print(f"openssl md5: {megabytes_per_second(size, wall):.1f} MB/s, {cpu:.2f} CPU s.")
    if bench.measured("cli-4"):
        print(f"audiodrop upload --parallel 4: {bench.cli_seconds(4):.2f} s end to end, "
              "complete included.")
    if bench.measured("tus"):
        print(f"tus: {bench.tus_seconds():.2f} s, tus-js-client's own clock (Node start-up "
              "excluded); @tus/file-store does not fsync, audiodrop fsyncs every part.")
    if bench.measured("s3rver-upload"):
        print(f"s3rver: {bench.s3rver_seconds():.2f} s: CreateMultipartUpload, presign, "
              "4 threads PUT 5 MiB parts (requests), CompleteMultipartUpload.")
    if bench.measured("create"):
        rates = bench.creation_rates()
        print("create: wrk -t2 -c64 -d10s; audiodrop cycles 64 users' tokens. "
              f"Errors (non-2xx + socket): tus {rates['tus']['errors']}, "
              f"audiodrop {rates['audiodrop']['errors']}.")
    if bench.measured("healthz"):
        h = bench.healthz_under_load()
        print(f"healthz: one keep-alive connection, a probe every {HEALTHZ_INTERVAL * 1000:g} ms "
              f"from its own process; load: {h['shape']}, then their 4 completes at once.")
        for phase in ("idle", "uploads", "completes"):
            s = h[phase]
            fmt = lambda v: "-" if v is None else f"{v:.2f}"  # noqa: E731
            print(f"  {phase:9}: {s['probes']} probes ({s['failed']} failed), p50 {fmt(s['p50'])} "
                  f"ms, p99 {fmt(s['p99'])} ms, max {fmt(s['max'])} ms")
    if bench.measured("rss"):
        r = bench.trickle_rss()
        print(f"rss: {r['connected']} connections connected ({r['failed_to_connect']} failed), "
              f"{r['answered_early']} answered or closed early, {TRICKLE_BYTES} bytes/s each for "
              f"{TRICKLE_SECONDS} s; /healthz afterwards: "
              f"{'200' if r['healthy_after'] else 'NOT HEALTHY'}.")
    if bench.measured("s3"):
        s3 = bench.s3_complete()
        print(f"s3: complete {s3['complete_s']:.2f} s, GET+MD5 {s3['read_s']:.2f} s "
              "(one replica on PostgreSQL + Ceph RGW).")
    for row in rows:
        if row.invalid:
            print(f"!!! {row.figure}: INVALID ({row.invalid})")


# Machine facts -----------------------------------------------------------------------
def machine_facts(work, binaries_built):
    usage = shutil.disk_usage(work)
    with open("/proc/meminfo") as f:
        mem_kib = int(next(line for line in f if line.startswith("MemTotal")).split()[1])
    model = "?"
    with contextlib.suppress(OSError, StopIteration):
        with open("/proc/cpuinfo") as f:
            model = next(line for line in f if line.startswith("model name")).split(":", 1)[1]
    return {
        "nproc": len(os.sched_getaffinity(0)),
        "cpu": model.strip(),
        "kernel": platform.release(),
        "memory_gib": round(mem_kib / 1024 / 1024, 1),
        "work_dir": work,
        "disk_free_gib": round(usage.free / 2**30, 1),
        "disk_total_gib": round(usage.total / 2**30, 1),
        "node": node_version(),
        "openssl": tool_version(["openssl", "version"]),
        "wrk": tool_version(["wrk", "--version"]).split(" [")[0],
        "source": source_revision(),
        "binaries_built": binaries_built,
        "cpu_busy_before": cpu_busy_fraction(),
    }


def print_facts(facts):
    print(f"machine: nproc {facts['nproc']}, {facts['cpu']}, {facts['memory_gib']} GiB RAM, "
          f"kernel {facts['kernel']}")
    print(f"disk: {facts['disk_free_gib']} GiB free of {facts['disk_total_gib']} GiB "
          f"at {facts['work_dir']}")
    print(f"tools: node {facts['node']}, {facts['openssl']}, {facts['wrk']}")
    print(f"audiodrop: {facts['source']}; binaries built {facts['binaries_built']}, "
          "copied into the work dir for this run")
    print_busy_warning(facts["cpu_busy_before"])
    print()


def snapshot_binaries(work):
    """Copies the built server and CLI into the work dir and points the harness at the
    copies: a rebuild of build/ during the run cannot change what is measured."""
    bin_dir = os.path.join(work, "bin")
    os.makedirs(bin_dir)
    built = []
    for env_var, name in (("AUDIODROP_SERVER", "audiodrop-server"),
                          ("AUDIODROP_CLI", "audiodrop")):
        source = harness.built_binary(env_var, name)
        copy = os.path.join(bin_dir, name)
        shutil.copy2(source, copy)
        os.environ[env_var] = copy
        built.append(time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(os.stat(source).st_mtime)))
    return max(built)


def source_revision():
    """The commit the work tree is on, and whether it has local changes (read-only)."""
    def git(*argv):
        out = subprocess.run(["git", "-C", ROOT, *argv], capture_output=True, text=True,
                             timeout=30)
        return out.stdout.strip() if out.returncode == 0 else ""
    commit = git("rev-parse", "--short", "HEAD") or "?"
    dirty = git("status", "--porcelain", "--untracked-files=no")
    return commit + (" + uncommitted changes" if dirty else "")


def cpu_busy_fraction(seconds=1.0):
    """Share of all CPUs busy over `seconds`, from /proc/stat: taken before anything of
    ours runs, it tells whether something else on the machine would skew the figures."""
    def sample():
        with open("/proc/stat") as f:
            values = [int(v) for v in f.readline().split()[1:]]
        idle = values[3] + values[4]  # idle + iowait
        return sum(values[:8]) - idle, sum(values[:8])
    busy0, total0 = sample()
    time.sleep(seconds)
    busy1, total1 = sample()
    return (busy1 - busy0) / max(1, total1 - total0)


def print_busy_warning(busy):
    line = f"CPU busy before the run: {busy * 100:.0f}% of the machine"
    if busy > 0.10:
        line = f"!!! {line}: another workload shares it; figures may be skewed"
    print(line)


class ForeignCpu:
    """CPU time the machine spends outside this process and its children (other users'
    work, kernel threads) between start and share(); share() is to be called once every
    child has been reaped, so that their time is in RUSAGE_CHILDREN."""

    def __init__(self):
        self._start = self._sample()

    @staticmethod
    def _sample():
        with open("/proc/stat") as f:
            user, nice, system = (int(v) for v in f.readline().split()[1:4])
        machine = (user + nice + system) / os.sysconf("SC_CLK_TCK")
        ours = sum(u.ru_utime + u.ru_stime for u in (
            resource.getrusage(resource.RUSAGE_SELF),
            resource.getrusage(resource.RUSAGE_CHILDREN)))
        return machine, ours, time.monotonic()

    def share(self):
        """(CPU seconds used by others, as a share of the machine over the run)."""
        machine0, ours0, t0 = self._start
        machine1, ours1, t1 = self._sample()
        foreign = max(0.0, (machine1 - machine0) - (ours1 - ours0))
        return foreign, foreign / ((t1 - t0) * len(os.sched_getaffinity(0)))


def print_foreign_cpu(seconds, share):
    line = (f"CPU used outside this run while it ran: {seconds:.0f} CPU s, {share * 100:.0f}% "
            "of the machine (kernel threads included)")
    if share > 0.10:
        line = f"!!! {line}: another workload shared the machine; figures may be skewed"
    print(line)


def check_same_filesystem(paths):
    devices = {os.stat(p).st_dev for p in paths}
    if len(devices) != 1:
        raise RuntimeError(f"work dirs are on different file systems: {paths}")


# Main --------------------------------------------------------------------------------
def parse_args(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=1024, help="size of the file (default 1024)")
    ap.add_argument("--runs", type=int, default=3, help="runs per timed figure (median)")
    ap.add_argument("--only", default=",".join(ROWS),
                    help=f"rows to run, comma-separated: {','.join(ROWS)}")
    ap.add_argument("--skip-s3", action="store_true", help="leave out the Ceph RGW row")
    ap.add_argument("--json", metavar="FILE", help="also write the results as JSON")
    args = ap.parse_args(argv)
    wanted = [r.strip() for r in args.only.split(",") if r.strip()]
    unknown = [r for r in wanted if r not in ROWS]
    if unknown:
        ap.error(f"unknown row(s) {unknown}; known: {', '.join(ROWS)}")
    if args.skip_s3:
        wanted = [r for r in wanted if r != "s3"]
    if args.mib < 1 or args.runs < 1:
        ap.error("--mib and --runs must be at least 1")
    args.rows = wanted
    return args


@contextlib.contextmanager
def work_dir():
    """A fresh directory under build/, on the disk the project is on; removed at the end."""
    parent = os.path.join(ROOT, "build")
    os.makedirs(parent, exist_ok=True)
    path = tempfile.mkdtemp(prefix="peers-", dir=parent)
    try:
        yield path
    finally:
        with section(f"removing {path}"):
            shutil.rmtree(path, ignore_errors=True)


def on_terminate(signum, _frame):
    raise KeyboardInterrupt(f"signal {signum}")


def main(argv):
    args = parse_args(argv)
    signal.signal(signal.SIGTERM, on_terminate)
    signal.signal(signal.SIGHUP, on_terminate)
    nofile = raise_open_files_limit()
    if "rss" in args.rows and nofile < TRICKLE_CONNECTIONS + 200:
        raise SystemExit(f"open files limit {nofile} is too low for {TRICKLE_CONNECTIONS} "
                         "connections")
    with work_dir() as work, contextlib.ExitStack() as stack:
        facts = machine_facts(work, snapshot_binaries(work))
        print_facts(facts)
        sys.stdout.flush()
        foreign = ForeignCpu()
        bench = Bench(args, work, stack)
        tables = {}
        try:
            for name in EXECUTION_ORDER:
                if name in args.rows:
                    tables[name] = rows_for(name, bench)
            check_same_filesystem([work] + [os.path.join(work, d) for d in os.listdir(work)
                                            if os.path.isdir(os.path.join(work, d))])
        except BaseException:
            bench.mark_failed()
            raise
        rows = [row for name in ROWS if name in tables for row in tables[name]]
        stack.close()  # every service stops and is reaped: its CPU time is ours now
        facts["foreign_cpu_s"], facts["foreign_cpu_share"] = foreign.share()
        print_table(rows)
        print_notes(bench, rows)
        print_foreign_cpu(facts["foreign_cpu_s"], facts["foreign_cpu_share"])
        if args.json:
            with open(args.json, "w") as f:
                json.dump({"machine": facts, "mib": args.mib, "runs": args.runs,
                           "rows": [row.as_json() for row in rows], "raw": bench.raw},
                          f, indent=2, default=str)
    log("done")
    return 1 if any(row.invalid for row in rows) else 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except KeyboardInterrupt:
        log("interrupted; everything started here has been stopped")
        sys.exit(130)
