#!/usr/bin/python3
"""Soak: legitimate uploads while abusive clients attack the same server.

Starts one real audiodrop-server on loopback (port 0, a temporary data dir), then runs
two phases back to back:

  unattacked  the legitimate workload alone: its upload throughput is the baseline.
              It takes a fifth of the run, but at least a minute and never more than
              half of it (2 of 10 minutes by default).
  attacked    the same workload while every kind of abusive client below runs too.
              Its first fifth is warm-up (but at least 90 s, the longest an abusive
              connection lives plus a margin, unless that is over half the phase): the
              abusers' connections reach their steady number in it, and RSS growth is
              measured from its end.

Legitimate clients are --workers threads, each looping over whole upload cycles:
partner token (once a minute), user token, generate-presigned-urls for a random size
between --min-mib and --max-mib, PUT of every part (ETag checked), complete-upload with
file_md5 (FileMd5 checked), every --download-every cycles a download compared by MD5,
then DELETE of the file so the disk does not fill. Every answer to them is checked:
any 5xx, unexpected status, transport error or wrong digest is a failure.

Abusive clients run in a child process (asyncio), each kind at a bounded rate with a
bounded number of connections in flight, each connection bounded in bytes and time:
slowloris (headers and part bodies a few bytes a second), oversized bodies (huge
Content-Length, endless chunked bodies and chunk extensions, huge headers), garbage
bytes, an fd hog (more idle or keep-alive connections than one address may hold),
token floods (random client_ids, wrong secrets, random refresh tokens), deeply nested
and huge JSON, bad presigned URLs and signatures, evil Range headers, and
Transfer-Encoding / Content-Length smuggling.

Source addresses: the legitimate clients connect from 127.0.0.1; each kind of abuser
binds its own address, 127.0.0.2 to 127.0.0.9 (Linux routes all of 127/8 to lo). The
server counts connections (--max-connections-per-address, answered 429) and token
requests (--token-requests-per-minute-per-address, answered 429) per source address,
so these limits throttle each abuser without touching the legitimate clients; only the
server-wide cap (--max-connections, 503) is shared by everyone, so it is set well above
what all abusers together may hold (otherwise refusing legitimate clients would be the
cap working as designed, not a failure).

Targets (the exit status is 1 if any fails, and the failing ones are named):
  - RSS at the end of the attacked phase is less than 10% above RSS at the end of its
    warm-up (each the median of the samples, every 0.5 s, over the 30 s before that
    moment: single samples swing by 10-20 MiB as argon2's 19 MiB buffers and part
    buffers come and go);
  - no 5xx, and no failure of any kind, answered to a legitimate request;
  - the server is alive throughout and exits 0 on SIGTERM at the end;
  - legitimate upload throughput while attacked is at least 0.7x the unattacked one.
The machine is shared: the CPU used by everything else in each phase is printed too.
--smoke is for CI (with --minutes 0.5): RSS growth and throughput need minutes to mean
anything, so they are printed but not judged; failures and crashes still fail it.

usage: bench/soak.py [--minutes 10] [--server PATH] [--keep] [--workers 3] ...
"""
import argparse
import asyncio
import collections
import hashlib
import multiprocessing
import os
import random
import re
import resource
import shutil
import statistics
import sys
import tempfile
import threading
import time
import urllib.parse

import requests

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bench_support import get_and_md5  # noqa: E402  (also puts harness on the path)
import harness  # noqa: E402
from harness import MiB  # noqa: E402
from peers import ForeignCpu, process_cpu_seconds, raise_open_files_limit  # noqa: E402

REQUEST_TIMEOUT = 60  # seconds, every legitimate request
PARTNER_TOKEN_EVERY = 60  # seconds between a worker's partner tokens
SAMPLE_INTERVAL = 0.5  # seconds between two samples of the server's memory and CPU
RSS_WINDOW = 30  # seconds of samples whose median is "the RSS at" a moment, at most
RSS_GROWTH_TARGET = 0.10
THROUGHPUT_TARGET = 0.70
MAX_FAILURE_DETAILS = 20
STOP_TIMEOUT = 120  # seconds for workers and abusers to wind down

# The cap per address the abusers meet (the fd hog tries half as many again), and the
# server-wide cap, far above the sum of every abuser's in-flight bound.
PER_ADDRESS_CONNECTIONS = 64
MAX_CONNECTIONS = 2048

# kind: (source address, attempts started per second, attempts in flight at most)
ABUSERS = {
    "fd-hog": ("127.0.0.2", 20, 96),
    "token-flood": ("127.0.0.3", 5, 4),
    "slowloris": ("127.0.0.4", 2, 40),
    "oversized": ("127.0.0.5", 2, 4),
    "garbage": ("127.0.0.6", 10, 8),
    "deep-json": ("127.0.0.7", 2, 2),
    "bad-presigned": ("127.0.0.8", 5, 4),
    "smuggling": ("127.0.0.9", 3, 2),
}
CONNECT_TIMEOUT = 10
ANSWER_TIMEOUT = 15  # seconds an abuser waits for an answer it expects at once
SEND_TIMEOUT = 5  # seconds one write may wait for the server to take bytes
ATTEMPT_LIMIT = 150  # seconds any one abusive attempt may last, whatever it does
SLOW_HOLD = 60  # seconds a slow or idle connection is kept at most from our side
KEEPALIVE_PROBE = 20  # seconds between the requests of a keep-alive fd hog
MAX_ATTEMPTS_PER_KIND = 200_000


def main(argv=None):
    args = parse_args(argv)
    if args.server:
        os.environ["AUDIODROP_SERVER"] = os.path.abspath(args.server)
    binary = harness.server_binary()
    raise_open_files_limit()
    total = args.minutes * 60
    unattacked = max(0.2 * total, min(60.0, 0.5 * total))
    attacked = total - unattacked
    warmup = max(0.2 * attacked, min(SLOW_HOLD + 30, 0.5 * attacked))
    scale = args.abuse_scale
    print(f"soak: {args.minutes:g} min on {binary}: unattacked {unattacked:.0f} s, attacked "
          f"{attacked:.0f} s (warm-up {warmup:.0f} s), {args.workers} legitimate workers, "
          f"abuse x{scale:g}", file=sys.stderr, flush=True)

    # One directory of the soak's own holds the server's (harness.Server makes its temp
    # dirs in tempfile's), out of reach of anyone sweeping the tests' temp dirs meanwhile.
    work = tempfile.mkdtemp(prefix="audiodrop-soak-")
    tempfile.tempdir = work
    server = harness.Server("--max-connections-per-address", PER_ADDRESS_CONNECTIONS,
                            "--max-connections", MAX_CONNECTIONS)
    try:
        server.start()
        report, ok = soak(server, args, unattacked, attacked, warmup)
    finally:
        if server.running():
            server.kill9()
        if args.keep:
            print(f"kept: {server.root} (data dir and server.log)", file=sys.stderr)
        else:
            server.cleanup()
            shutil.rmtree(work, ignore_errors=True)
    print(report)
    return 0 if ok else 1


def parse_args(argv):
    ap = argparse.ArgumentParser(
        description="Legitimate uploads while abusive clients attack one audiodrop-server; "
                    "checks RSS growth, 5xx to legitimate clients, crashes and throughput.")
    ap.add_argument("--minutes", type=float, default=10.0,
                    help="length of the whole run (both phases), default 10")
    ap.add_argument("--server", help="audiodrop-server binary (default $AUDIODROP_SERVER, "
                                     "else build/bin/audiodrop-server)")
    ap.add_argument("--keep", action="store_true",
                    help="keep the server's data dir and log, and print where")
    ap.add_argument("--workers", type=int, default=3, help="legitimate upload loops, default 3")
    ap.add_argument("--min-mib", type=int, default=6, help="smallest legitimate file, MiB")
    ap.add_argument("--max-mib", type=int, default=20, help="largest legitimate file, MiB")
    ap.add_argument("--download-every", type=int, default=4,
                    help="every Nth cycle of a worker downloads the file back and compares it")
    ap.add_argument("--abuse-scale", type=float, default=1.0,
                    help="multiplies every abuser's rate and connections in flight")
    ap.add_argument("--details", action="store_true",
                    help="list abusive outcomes per variant, not only per kind")
    ap.add_argument("--smoke", action="store_true",
                    help="judge only failures of legitimate requests and crashes (for a "
                         "short run in CI); print RSS growth and throughput without judging")
    ap.add_argument("--samples", metavar="CSV",
                    help="write the server's samples (seconds, phase, RSS, anon, file MiB, "
                         "open fds) to this file")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.workers < 1 or args.abuse_scale <= 0:
        ap.error("--minutes, --workers and --abuse-scale must be positive")
    if not 1 <= args.min_mib <= args.max_mib:
        ap.error("need 1 <= --min-mib <= --max-mib")
    return args


# The run -----------------------------------------------------------------------------
class Marks:
    """What the server, this process and the machine had used at one moment."""

    def __init__(self, server_pid, abuser_pid=None, since=None):
        self.time = time.monotonic()
        self.server_cpu = cpu_or_nan(server_pid)
        usage = resource.getrusage(resource.RUSAGE_SELF)
        self.client_cpu = usage.ru_utime + usage.ru_stime
        self.abuser_cpu = cpu_or_nan(abuser_pid) if abuser_pid else 0.0
        self.foreign = ForeignCpu()
        # CPU the machine spent outside this process since `since`, server and abusers
        # included (ForeignCpu counts children only once reaped).
        self.foreign_since = since.foreign.share()[0] if since else 0.0


def cpu_or_nan(pid):
    try:
        return process_cpu_seconds(pid)
    except OSError:
        return float("nan")  # already reaped


def soak(server, args, unattacked, attacked, warmup):
    pid = server.proc.pid
    cred = harness.create_partner(server)
    target = abuse_target(server, cred)
    sampler = Sampler(server)
    legit = Legit(server, cred, args)
    sampler.start()
    t0 = Marks(pid)
    legit.start()
    alive = wait_while_alive(server, unattacked)
    t1 = Marks(pid, since=t0)
    legit.phase = "attacked"
    abusers = Abusers(target, deadline=time.time() + attacked + STOP_TIMEOUT,
                      scale=args.abuse_scale)
    if alive:
        abusers.start()
        alive = wait_while_alive(server, attacked)
    t2 = Marks(pid, abusers.pid, since=t1)
    legit.phase = "after"
    outcomes = abusers.stop()
    legit.stop()
    sampler.stop()
    if not server.running():
        exit_ok, exit_note = False, f"died during the run (exit status {server.proc.returncode})"
    else:
        try:
            server.stop()  # SIGTERM; raises unless it exits 0 in time
            exit_ok, exit_note = True, "exit 0 on SIGTERM"
        except AssertionError as e:
            exit_ok, exit_note = False, str(e).splitlines()[0]
    if args.samples:
        sampler.write_csv(args.samples, (t0, t1, t2))
    return summarize(args, server, sampler, legit, outcomes, (t0, t1, t2), warmup,
                     alive and exit_ok, exit_note)


def wait_while_alive(server, seconds):
    """Sleeps `seconds` in short steps; False as soon as the server has died."""
    deadline = time.monotonic() + seconds
    for _ in range(int(seconds / 0.2) + 2):
        if not server.running():
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            break
        time.sleep(min(0.2, left))
    return server.running()


def abuse_target(server, cred):
    """What the abusers need to attack more than the front door: a user token of their
    own, a partner token, part URLs of an open upload and a DownloadUrl."""
    api = harness.Api(server)
    try:
        partner_token = api.partner_tokens(cred)["access_token"]
        user_token = api.user_token(partner_token, "abuser-000001")
        plan = api.start_upload(user_token, 12 * MiB)
        _, done = api.upload_file(user_token, os.urandom(64 * 1024))
    finally:
        api.close()
    return {
        "api_port": server.port,
        "storage_port": server.storage_port,
        "base_path": server.base_path,
        "client_id": cred["client_id"],
        "partner_token": partner_token,
        "user_token": user_token,
        "file_id": plan["FileId"],
        "upload_id": plan["UploadId"],
        "part_urls": [p["PresignedUrl"] for p in plan["Parts"]],
        "download_url": done["DownloadUrl"],
    }


# Server samples ------------------------------------------------------------------------
def proc_status_mib(pid, names=("VmRSS", "RssAnon", "RssFile")):
    """The named kB fields of /proc/<pid>/status, in MiB."""
    found = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, value = line.partition(":")
            if key in names:
                found[key] = int(value.split()[0]) / 1024
    return found


class Sampler:
    """Samples the server's RSS and open descriptors every SAMPLE_INTERVAL seconds."""

    def __init__(self, server):
        self.pid = server.proc.pid
        self.samples = []  # (monotonic time, {VmRSS, RssAnon, RssFile, fds})
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self):
        limit = int(24 * 3600 / SAMPLE_INTERVAL)
        for _ in range(limit):
            try:
                sample = proc_status_mib(self.pid)
                sample["fds"] = len(os.listdir(f"/proc/{self.pid}/fd"))
            except (OSError, ValueError):
                return  # the server is gone
            self.samples.append((time.monotonic(), sample))
            if self._stop.wait(SAMPLE_INTERVAL):
                return

    def start(self):
        self._thread.start()

    def stop(self):
        self._stop.set()
        self._thread.join(timeout=10)

    def write_csv(self, path, marks):
        t0, t1, t2 = marks
        with open(path, "w") as f:
            f.write("seconds,phase,rss_mib,anon_mib,file_mib,fds\n")
            for t, s in self.samples:
                phase = "unattacked" if t < t1.time else "attacked" if t <= t2.time else "after"
                f.write(f"{t - t0.time:.1f},{phase},{s['VmRSS']:.1f},{s['RssAnon']:.1f},"
                        f"{s['RssFile']:.1f},{s['fds']}\n")

    def between(self, start, end, field):
        return [s[field] for t, s in self.samples if start <= t <= end]

    def at(self, moment, field, window=RSS_WINDOW):
        """Median of `field` over the `window` seconds before `moment`."""
        values = self.between(moment - window, moment, field)
        return statistics.median(values) if values else float("nan")


# Legitimate clients ------------------------------------------------------------------------
class CycleFailed(Exception):
    pass


class Legit:
    """--workers threads doing whole upload cycles from 127.0.0.1; every request counted
    and checked. `phase` says where uploaded bytes are counted."""

    def __init__(self, server, cred, args):
        self.server = server
        self.cred = cred
        self.args = args
        self.phase = "unattacked"
        self.lock = threading.Lock()
        self.requests = collections.Counter()  # by call
        self.failures = collections.Counter()  # by (call, what went wrong)
        self.failure_details = []
        self.bytes = collections.Counter()  # part bytes stored, by phase
        self.cycles = collections.Counter()  # completed cycles, by phase
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._worker, args=(i,), daemon=True)
                         for i in range(args.workers)]

    def start(self):
        for t in self._threads:
            t.start()

    def stop(self):
        self._stop.set()
        deadline = time.monotonic() + STOP_TIMEOUT
        for t in self._threads:
            t.join(timeout=max(0.1, deadline - time.monotonic()))

    def _record(self, call, what, detail):
        with self.lock:
            self.failures[(call, what)] += 1
            if len(self.failure_details) < MAX_FAILURE_DETAILS:
                self.failure_details.append(f"{self.phase} {call}: {what}: {detail[:300]}")

    def _fail(self, call, what, detail):
        """Counts a failure and abandons the cycle."""
        self._record(call, what, detail)
        raise CycleFailed()

    def _checked(self, call, send, expect=200):
        """The answer of send(), which must be `expect`; anything else is a failure."""
        with self.lock:
            self.requests[call] += 1
        try:
            resp = send()
        except AssertionError as e:  # harness.no_5xx
            self._fail(call, "5xx", str(e))
        except requests.RequestException as e:
            self._fail(call, "transport", repr(e))
        if resp.status_code != expect:
            self._fail(call, f"status {resp.status_code}", resp.text)
        return resp

    def _worker(self, index):
        rng = random.Random(index)
        pool = os.urandom((self.args.max_mib + 4) * MiB)  # files are slices of it
        api = harness.Api(self.server)
        user_id = f"soak-user-{index:04d}"
        partner_token, partner_at = None, 0.0
        try:
            for n in range(1, 10_000_000):
                if self._stop.is_set():
                    break
                try:
                    if time.monotonic() - partner_at > PARTNER_TOKEN_EVERY:
                        partner_token = self._checked("partner-token", lambda: api.request(
                            "POST", "/oauth/partner/access-token",
                            auth=harness.basic_auth(self.cred["client_id"],
                                                    self.cred["secret_key"]),
                            timeout=REQUEST_TIMEOUT)).json()["access_token"]
                        partner_at = time.monotonic()
                    self._cycle(api, rng, pool, partner_token, user_id,
                                download=n % self.args.download_every == 0)
                except (KeyError, TypeError, ValueError) as e:  # a 200 with a bad body
                    self._record("cycle", "malformed answer", repr(e))
                    self._stop.wait(0.5)
                except CycleFailed:
                    self._stop.wait(0.5)  # no hot loop against a failing server
        finally:
            api.close()

    def _cycle(self, api, rng, pool, partner_token, user_id, download):
        token = self._checked("user-token", lambda: api.request(
            "POST", "/open/partner/users/access-token", token=partner_token,
            json_body={"user_id": user_id}, timeout=REQUEST_TIMEOUT)).json()["access_token"]
        size = rng.randint(self.args.min_mib * MiB, self.args.max_mib * MiB)
        offset = rng.randrange(len(pool) - size)
        data = memoryview(pool)[offset:offset + size]
        file_md5 = hashlib.md5(data).hexdigest()
        plan = self._checked("generate", lambda: api.request(
            "POST", "/open/partner/files/upload/generate-presigned-urls", token=token,
            json_body={"filesize": size, "filetype": "mp3"}, timeout=REQUEST_TIMEOUT)).json()
        chunk = plan["ChunkSize"]
        etags = {}
        for part in plan["Parts"]:
            n = part["PartNumber"]
            body = bytes(data[(n - 1) * chunk:n * chunk])
            resp = self._checked("put-part", lambda: harness.no_5xx(api.http.put(
                part["PresignedUrl"], data=body, timeout=REQUEST_TIMEOUT)))
            expected = harness.quoted(harness.md5_hex(body))
            if resp.headers.get("ETag") != expected:
                self._fail("put-part", "wrong ETag", f"{resp.headers.get('ETag')} != {expected}")
            etags[n] = expected
            with self.lock:
                self.bytes[self.phase] += len(body)
        done = self._checked("complete", lambda: api.request(
            "POST", "/open/partner/files/upload/complete-upload", token=token,
            json_body={"file_id": plan["FileId"], "upload_id": plan["UploadId"],
                       "part_list": harness.part_list(etags), "filetype": "mp3",
                       "file_md5": file_md5}, timeout=REQUEST_TIMEOUT)).json()
        if done.get("FileMd5") != file_md5:
            self._fail("complete", "wrong FileMd5", f"{done.get('FileMd5')} != {file_md5}")
        if download:
            self._download(done["DownloadUrl"], file_md5)
        self._checked("delete", lambda: api.request(
            "DELETE", f"/open/partner/files/{plan['FileId']}", token=token,
            timeout=REQUEST_TIMEOUT))
        with self.lock:
            self.cycles[self.phase] += 1

    def _download(self, url, file_md5):
        with self.lock:
            self.requests["download"] += 1
        try:
            _, got = get_and_md5(url, timeout=REQUEST_TIMEOUT)
        except requests.HTTPError as e:
            status = e.response.status_code
            self._fail("download", "5xx" if status >= 500 else f"status {status}", str(e))
        except requests.RequestException as e:
            self._fail("download", "transport", repr(e))
        if got != file_md5:
            self._fail("download", "wrong bytes", f"MD5 {got} != {file_md5}")


# Abusive clients ---------------------------------------------------------------------------
class Abusers:
    """The abusive clients, in a child process of their own (spawned, so none of this
    process's threads or locks are inherited) that stops at `deadline` (time.time())
    even if this process dies."""

    def __init__(self, target, deadline, scale):
        context = multiprocessing.get_context("spawn")
        self._stop = context.Event()
        self._results, child_end = context.Pipe(duplex=False)
        self._process = context.Process(target=run_abusers, daemon=True,
                                        args=(target, deadline, scale, self._stop, child_end))
        self.pid = None

    def start(self):
        self._process.start()
        self.pid = self._process.pid

    def stop(self):
        """Stops them; {kind: {"source", "outcomes": {label: n}, and "cut_after": (min,
        median, max) seconds where the server cut connections}}."""
        if self.pid is None:
            return {}
        self._stop.set()
        outcomes = {}
        if self._results.poll(STOP_TIMEOUT):
            outcomes = self._results.recv()
        self._process.join(timeout=10)
        if self._process.is_alive():
            self._process.terminate()
            self._process.join(timeout=10)
        return outcomes


def run_abusers(target, deadline, scale, stop, results):
    """Child process: every kind of abuser at once until `stop` or `deadline`."""
    tally = {kind: {"source": source, "outcomes": collections.Counter(), "seconds": []}
             for kind, (source, _, _) in ABUSERS.items()}
    try:
        asyncio.run(abuse(target, deadline, scale, stop, tally))
    finally:
        for entry in tally.values():
            seconds = entry.pop("seconds")
            entry["outcomes"] = dict(entry["outcomes"])
            if seconds:
                entry["cut_after"] = (min(seconds), statistics.median(seconds), max(seconds))
        results.send(tally)
        results.close()


async def abuse(target, deadline, scale, stop, tally):
    attack = Attack(target)
    kinds = {kind: getattr(attack, kind.replace("-", "_")) for kind in ABUSERS}
    done = asyncio.Event()

    async def watch():
        while not stop.is_set() and time.time() < deadline:
            await asyncio.sleep(0.2)
        done.set()

    watcher = asyncio.create_task(watch())
    await asyncio.gather(*(repeat(kinds[kind], ABUSERS[kind], scale, done, tally[kind])
                           for kind in kinds))
    watcher.cancel()


async def repeat(attempt, spec, scale, done, entry):
    """Starts attempt(source, n) at the kind's rate, at most its bound in flight, until
    `done`; each is cut at ATTEMPT_LIMIT seconds and its outcome (label, seconds or None)
    tallied in `entry`. In-flight attempts are cancelled at the end."""
    source, rate, in_flight = spec
    interval = 1.0 / (rate * scale)
    slots = asyncio.Semaphore(max(1, round(in_flight * scale)))
    running = set()
    loop = asyncio.get_running_loop()
    next_at = loop.time()

    async def one(n):
        try:
            label, seconds = await asyncio.wait_for(attempt(source, n), ATTEMPT_LIMIT)
        except asyncio.TimeoutError:
            label, seconds = "attempt-timeout", None
        except asyncio.CancelledError:
            label, seconds = "in-flight-at-end", None
        except ConnectionRefusedError:
            label, seconds = "connect-refused", None
        except Exception as e:  # tallied, so that a fault of ours shows in the report
            label, seconds = f"error:{type(e).__name__}", None
        finally:
            slots.release()
        entry["outcomes"][label] += 1
        if seconds is not None:
            entry["seconds"].append(round(seconds, 1))

    for n in range(MAX_ATTEMPTS_PER_KIND):
        if done.is_set():
            break
        acquire = asyncio.create_task(slots.acquire())
        finished = asyncio.create_task(done.wait())
        await asyncio.wait({acquire, finished}, return_when=asyncio.FIRST_COMPLETED)
        finished.cancel()
        if not acquire.done():
            acquire.cancel()
            break
        task = asyncio.create_task(one(n))
        running.add(task)
        task.add_done_callback(running.discard)
        next_at = max(next_at + interval, loop.time())
        try:
            await asyncio.wait_for(done.wait(), max(0.0, next_at - loop.time()))
        except asyncio.TimeoutError:
            pass
    for task in list(running):
        task.cancel()
    if running:
        await asyncio.wait(running, timeout=10)


class Answer:
    """Reads whatever the server sends on one connection, in the background, until it
    closes, `limit` bytes came, or `seconds` passed."""

    def __init__(self, reader, seconds, limit=256 * 1024):
        self.data = bytearray()
        self.end = None  # "closed", "reset", "silent" (nothing more in time) or "limit"
        self._task = asyncio.create_task(self._read(reader, seconds, limit))

    async def _read(self, reader, seconds, limit):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + seconds
        while len(self.data) < limit:
            left = deadline - loop.time()
            if left <= 0:
                self.end = "silent"
                return
            try:
                chunk = await asyncio.wait_for(reader.read(65536), left)
            except asyncio.TimeoutError:
                self.end = "silent"
                return
            except (ConnectionResetError, BrokenPipeError):
                self.end = "reset"
                return
            if not chunk:
                self.end = "closed"
                return
            self.data += chunk
        self.end = "limit"

    @property
    def started(self):
        return bool(self.data) or self._task.done()

    async def finish(self):
        await self._task
        return self

    def statuses(self):
        return [m.decode() for m in re.findall(rb"HTTP/1\.[01] (\d{3})", bytes(self.data))]

    def label(self):
        """"413", "400+200" (two answers), or how it ended without one."""
        statuses = self.statuses()
        return "+".join(statuses) if statuses else self.end or "open"


class Connection:
    """One raw connection from an abuser's source address."""

    @classmethod
    async def open(cls, source, port):
        reader, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)),
            CONNECT_TIMEOUT)
        return cls(reader, writer)

    def __init__(self, reader, writer):
        self.reader, self.writer = reader, writer

    async def send(self, data):
        """False once the server stops taking bytes (closed, reset or not reading)."""
        try:
            self.writer.write(data)
            await asyncio.wait_for(self.writer.drain(), SEND_TIMEOUT)
            return True
        except (ConnectionResetError, BrokenPipeError, asyncio.TimeoutError):
            return False

    async def stream(self, answer, produce, limit):
        """Sends produce() over and over until the server answers or stops reading, or
        `limit` bytes went; returns how many went."""
        sent = 0
        while sent < limit and not answer.started:
            piece = produce()
            if not await self.send(piece):
                break
            sent += len(piece)
        return sent

    async def close(self):
        self.writer.close()
        try:
            await asyncio.wait_for(self.writer.wait_closed(), 2)
        except (OSError, asyncio.TimeoutError):
            pass


async def read_response(reader, seconds):
    """The status of one whole response (a Content-Length body at most 1 MiB), or how
    the connection ended without one."""
    try:
        head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), seconds)
        length = re.search(rb"(?i)\r\ncontent-length:\s*(\d{1,7})\r\n", head)
        if length:
            await asyncio.wait_for(reader.readexactly(int(length.group(1))), seconds)
    except asyncio.TimeoutError:
        return "silent"
    except asyncio.IncompleteReadError:
        return "closed"
    except asyncio.LimitOverrunError:
        return "huge-head"
    except (ConnectionResetError, BrokenPipeError):
        return "reset"
    status = re.match(rb"HTTP/1\.[01] (\d{3})", head)
    return status.group(1).decode() if status else "garbled"


def request_head(port, method, target, fields=(), version="HTTP/1.1"):
    """A request head for 127.0.0.1:`port`, the host presigned URLs are signed for."""
    lines = [f"{method} {target} {version}", f"Host: 127.0.0.1:{port}"]
    lines += [f"{name}: {value}" for name, value in fields]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def with_query(url, **changes):
    """`url` (a presigned URL) with query parameters replaced, or removed when None."""
    u = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    query = [(k, changes.get(k, v)) for k, v in query if changes.get(k, v) is not None]
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(query)))


def flip_last(text):
    return text[:-1] + ("0" if text[-1] != "0" else "1")


def target_of(url):
    u = urllib.parse.urlsplit(url)
    return u.path + ("?" + u.query if u.query else "")


class Attack:
    """One method per kind: attempt(source, n) -> (outcome label, seconds or None).
    `n` picks the variant, so every variant recurs."""

    SMUGGLED = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"

    def __init__(self, target):
        self.t = target
        self.api = target["api_port"]
        self.storage = target["storage_port"]
        base = target["base_path"]
        self.generate = base + "/open/partner/files/upload/generate-presigned-urls"
        self.complete = base + "/open/partner/files/upload/complete-upload"
        self.user_tokens = base + "/open/partner/users/access-token"
        self.partner_tokens = base + "/oauth/partner/access-token"
        self.refresh = base + "/oauth/partner/access-token/refresh"
        self.part_url = target["part_urls"][0]
        self._json = {}

    async def exchange(self, source, port, head, body=b"", seconds=ANSWER_TIMEOUT,
                       produce=None, limit=0):
        """Sends `head` and `body` (then produce() up to `limit` bytes while unanswered)
        and labels what came back."""
        conn = await Connection.open(source, port)
        try:
            answer = Answer(conn.reader, seconds)
            if await conn.send(head + body) and produce is not None:
                await conn.stream(answer, produce, limit)
            await answer.finish()
            return answer.label()
        finally:
            await conn.close()

    # fd hog: more connections than one address may hold, idle or kept alive.
    async def fd_hog(self, source, n):
        # Half stay idle (on either listener), half keep their place with /healthz.
        port = self.storage if n % 4 == 1 else self.api
        began = time.monotonic()
        conn = await Connection.open(source, port)
        try:
            answer = Answer(conn.reader, 1.0)
            await answer.finish()
            if answer.data or answer.end != "silent":
                return f"refused:{answer.label()}", None  # 429 (or 503) straight away
            if n % 4 < 2:  # admitted; sends nothing until the server cuts it
                answer = await Answer(conn.reader, SLOW_HOLD).finish()
                cut = answer.end in ("closed", "reset")
                return ("idle-cut" if cut else f"idle-{answer.label()}",
                        time.monotonic() - began if cut else None)
            # admitted; a request every KEEPALIVE_PROBE s keeps the place
            for _ in range(int(SLOW_HOLD / KEEPALIVE_PROBE)):
                if not await conn.send(request_head(self.api, "GET", "/healthz")):
                    return "keepalive-dropped", None
                status = await read_response(conn.reader, ANSWER_TIMEOUT)
                if status != "200":
                    return f"keepalive-{status}", None
                await asyncio.sleep(KEEPALIVE_PROBE)
            return "keepalive-held", None
        finally:
            await conn.close()

    # token flood: made-up client_ids, wrong secrets, random refresh tokens.
    async def token_flood(self, source, n):
        secret = "sk_" + os.urandom(16).hex()
        variant = n % 4
        if variant == 3:
            name, path, body = "random-refresh", self.refresh, \
                f"refresh_token={os.urandom(24).hex()}".encode()
            fields = [("Content-Type", "application/x-www-form-urlencoded")]
        else:
            name, path, body = ("random-client", "wrong-secret", "bad-basic")[variant], \
                self.partner_tokens, b""
            fields = [("Authorization", (
                harness.basic_auth("pc_" + os.urandom(13).hex(), secret),
                harness.basic_auth(self.t["client_id"], secret),
                "Basic !!" + os.urandom(8).hex())[variant])]
        head = request_head(self.api, "POST", path,
                            fields + [("Content-Length", len(body)), ("Connection", "close")])
        return f"{name}:{await self.exchange(source, self.api, head, body)}", None

    # slowloris: a header, or a part body, a few bytes a second.
    async def slowloris(self, source, n):
        began = time.monotonic()
        if n % 3 < 2:
            port = self.api if n % 3 else self.storage
            name, head = "header", b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
            drip = b"a"
        else:
            port, name = self.storage, "part-body"
            head = request_head(port, "PUT", target_of(self.part_url),
                                [("Content-Length", 5 * MiB)])
            drip = b"b" * 16
        conn = await Connection.open(source, port)
        try:
            answer = Answer(conn.reader, SLOW_HOLD + 5)
            sent_ok = await conn.send(head)
            for _ in range(SLOW_HOLD):
                if not sent_ok or answer.started or time.monotonic() - began > SLOW_HOLD:
                    break
                await asyncio.sleep(1)
                sent_ok = await conn.send(drip)
            if not answer.started:
                return f"{name}:open-at-{SLOW_HOLD}s", None
            await answer.finish()
            return f"{name}:{answer.label()}", time.monotonic() - began
        finally:
            await conn.close()

    # oversized: bodies and headers far past every limit.
    async def oversized(self, source, n):
        token = ("Authorization", "Bearer " + self.t["user_token"])
        json_type = ("Content-Type", "application/json")
        close = ("Connection", "close")
        part = target_of(self.part_url)
        chunk = b"10000\r\n" + b" " * 0x10000 + b"\r\n"
        variant = n % 7
        if variant == 0:
            name, port = "api-huge-length", self.api
            head = request_head(port, "POST", self.generate,
                                [token, json_type, ("Content-Length", 10**15), close])
            produce, limit = (lambda: b"[" * 65536), 1 * MiB
        elif variant == 1:
            name, port = "api-endless-chunked", self.api
            head = request_head(port, "POST", self.generate,
                                [token, json_type, ("Transfer-Encoding", "chunked"), close])
            produce, limit = (lambda: chunk), 8 * MiB
        elif variant == 2:
            name, port = "chunk-extension", self.api
            head = request_head(port, "POST", self.refresh,
                                [("Transfer-Encoding", "chunked"), close]) + b"1;"
            produce, limit = (lambda: b"a" * 65536), 4 * MiB
        elif variant == 3:
            name, port = "part-huge-length", self.storage
            head = request_head(port, "PUT", part, [("Content-Length", 10**12), close])
            produce, limit = (lambda: b"\0" * 65536), 1 * MiB
        elif variant == 4:
            name, port = "part-chunked", self.storage
            head = request_head(port, "PUT", part, [("Transfer-Encoding", "chunked"), close])
            produce, limit = (lambda: chunk), 8 * MiB
        elif variant == 5:
            name, port = "huge-header", self.api if n % 2 else self.storage
            head = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            produce, limit = (lambda: b"X-Pad: " + b"p" * 1016 + b"\r\n"), 1 * MiB
        else:
            name, port = "part-longer-than-length", self.storage
            head = request_head(port, "PUT", part, [("Content-Length", 1024)])
            produce, limit = (lambda: b"\xff" * 65536), 4 * MiB
        label = await self.exchange(source, port, head, produce=produce, limit=limit)
        return f"{name}:{label}", None

    # garbage: bytes that are no HTTP at all, or only almost.
    async def garbage(self, source, n):
        port = self.api if n % 2 else self.storage
        variant = n % 6
        if variant == 0:
            data, name = os.urandom(1 << random.randint(0, 16)), "random"
        elif variant == 1:
            data, name = b"GET / HTTP/1.1\r\n" + os.urandom(4096), "request-line-then-random"
        elif variant == 2:
            data, name = b"\r\n" * 10000, "blank-lines"
        elif variant == 3:
            data, name = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + os.urandom(64), "http2-preface"
        elif variant == 4:
            data, name = b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + os.urandom(500), "tls"
        else:
            data, name = b"G\0ET /\0 HTTP/1.1\r\nHost:\0\r\n\r\n", "nul-bytes"
        return f"{name}:{await self.exchange(source, port, data)}", None

    # deep JSON: nested past any sane depth, or huge and flat, with a valid token.
    async def deep_json(self, source, n):
        variant = n % 6
        if variant not in self._json:
            self._json[variant] = self.json_body(variant)
        name, path, bearer, body = self._json[variant]
        head = request_head(self.api, "POST", path,
                            [("Authorization", "Bearer " + bearer),
                             ("Content-Type", "application/json"),
                             ("Content-Length", len(body)), ("Connection", "close")])
        return f"{name}:{await self.exchange(source, self.api, head, body)}", None

    def json_body(self, variant):
        """(name, path, bearer token, body) of one deep-json variant; built once."""
        path, bearer = self.generate, self.t["user_token"]
        if variant == 0:
            name, body = "nested-arrays", b'{"filesize":' + b"[" * (MiB - 20) + b"}"
        elif variant == 1:
            depth = 150_000
            name, body = "nested-objects", b'{"a":' * depth + b"1" + b"}" * depth
        elif variant == 2:
            name, path, bearer = "user-id-nested", self.user_tokens, self.t["partner_token"]
            body = b'{"user_id":' + b"[" * 500_000 + b"]" * 500_000 + b"}"
        elif variant == 3:
            name, path = "huge-part-list", self.complete
            parts = ",".join(f'{{"PartNumber":{i},"ETag":"\\"{i:032x}\\""}}'
                             for i in range(1, 15_000))
            body = (f'{{"file_id":"{self.t["file_id"]}","upload_id":"{self.t["upload_id"]}",'
                    f'"filetype":"mp3","part_list":[{parts}]}}').encode()
        elif variant == 4:
            name = "wide-object"
            body = ("{" + ",".join(f'"k{i}":{i}' for i in range(60_000)) + "}").encode()
        else:
            name = "long-string"
            body = b'{"filesize":1,"filetype":"' + b"a" * 1_000_000 + b'"}'
        return name, path, bearer, body

    # bad presigned URLs: every part of the signature wrong once, and evil Ranges.
    async def bad_presigned(self, source, n):
        url, download = self.part_url, self.t["download_url"]
        query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
        u = urllib.parse.urlsplit(url)
        bucket, _, key = u.path.lstrip("/").partition("/")
        body = os.urandom(1024)
        method, fields = "PUT", [("Content-Length", len(body))]
        variant = n % 12
        if variant == 0:
            name, target = "tampered-signature", with_query(
                url, **{"X-Amz-Signature": flip_last(query["X-Amz-Signature"])})
        elif variant == 1:
            name, target = "other-upload", with_query(url, uploadId=flip_last(query["uploadId"]))
        elif variant == 2:
            name, target = "other-part", with_query(url, partNumber="2")
        elif variant == 3:
            name, target = "expired", with_query(url, **{"X-Amz-Date": "20200101T000000Z"})
        elif variant == 4:
            credential = "AKIAFAKEFAKEFAKEFAKE/" + query["X-Amz-Credential"].partition("/")[2]
            name, target = "unknown-key", with_query(url, **{"X-Amz-Credential": credential})
        elif variant == 5:
            name, target = "no-signature", with_query(url, **{"X-Amz-Signature": None})
        elif variant == 6:
            name, target = "other-bucket", url.replace(f"/{bucket}/", "/not-our-bucket/", 1)
        elif variant == 7:
            name, target = "dot-dot-key", url.replace(f"/{key}", "/../../../etc/passwd", 1)
        elif variant == 8:
            name, target, method, body, fields = "get-part-url", url, "GET", b"", []
        elif variant == 9:
            name, method, body, fields = "download-tampered", "GET", b"", []
            dq = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(download).query))
            target = with_query(download,
                                **{"X-Amz-Signature": flip_last(dq["X-Amz-Signature"])})
        elif variant == 10:
            name, target, method, body = "many-ranges", download, "GET", b""
            fields = [("Range", "bytes=" + ",".join(f"{i}-{i}" for i in range(1000)))]
        else:
            name, target, method, body = "huge-range", download, "GET", b""
            fields = [("Range", "bytes=99999999999-99999999999999")]
        head = request_head(self.storage, method, target_of(target),
                            fields + [("Connection", "close")])
        label = await self.exchange(source, self.storage, head, body)
        return f"{name}:{label}", None

    # smuggling: framings that disagree, each followed by a second request in the body.
    SMUGGLING = (
        ("cl-then-te", [("Content-Length", "5"), ("Transfer-Encoding", "chunked")]),
        ("te-then-cl", [("Transfer-Encoding", "chunked"), ("Content-Length", "5")]),
        ("te-gzip", [("Transfer-Encoding", "gzip")]),
        ("te-gzip-chunked", [("Transfer-Encoding", "gzip, chunked")]),
        ("te-twice", [("Transfer-Encoding", "chunked"), ("Transfer-Encoding", "chunked")]),
        ("te-space-before-colon", [("Transfer-Encoding ", "chunked")]),
        ("te-xchunked", [("Transfer-Encoding", "xchunked")]),
        ("te-http10", [("Transfer-Encoding", "chunked")]),
        ("cl-list", [("Content-Length", "5, 5")]),
        ("cl-differing", [("Content-Length", "5"), ("Content-Length", "6")]),
        ("cl-negative", [("Content-Length", "-1")]),
        ("cl-plus", [("Content-Length", "+5")]),
        ("chunked-then-pipelined", [("Transfer-Encoding", "chunked")]),
    )

    async def smuggling(self, source, n):
        name, fields = self.SMUGGLING[n % len(self.SMUGGLING)]
        storage = n // len(self.SMUGGLING) % 2 == 1
        port = self.storage if storage else self.api
        path = target_of(self.part_url) if storage else self.refresh
        method = "PUT" if storage else "POST"
        version = "HTTP/1.0" if name == "te-http10" else "HTTP/1.1"
        # The pipelined case is honest framing: a chunked body, then a second request.
        body = (b"0\r\n\r\n" if name == "chunked-then-pipelined" else b"") + self.SMUGGLED
        head = request_head(port, method, path, fields, version)
        label = await self.exchange(source, port, head, body, seconds=5)
        return f"{'storage' if storage else 'api'}:{name}:{label}", None


# The report ---------------------------------------------------------------------------------
def summarize(args, server, sampler, legit, outcomes, marks, warmup, survived, exit_note):
    t0, t1, t2 = marks
    warm_end = t1.time + warmup
    # Within the warm-up and within what follows it, whatever their lengths.
    window = min(RSS_WINDOW, warmup / 2, (t2.time - warm_end) / 2)
    rss_warm = sampler.at(warm_end, "VmRSS", window)
    rss_end = sampler.at(t2.time, "VmRSS", window)
    after = sampler.between(warm_end, t2.time, "VmRSS")
    rss_max = max(after) if after else float("nan")
    growth = rss_end / rss_warm - 1 if rss_warm == rss_warm and rss_warm > 0 else float("nan")
    anon = (sampler.at(warm_end, "RssAnon", window), sampler.at(t2.time, "RssAnon", window))
    fds = sampler.between(t1.time, t2.time, "fds")
    phases = (("unattacked", t0, t1), ("attacked", t1, t2))
    rate = {name: legit.bytes[name] / 1e6 / max(1e-9, b.time - a.time)
            for name, a, b in phases}
    ratio = rate["attacked"] / rate["unattacked"] if rate["unattacked"] else 0.0
    failed_requests = sum(legit.failures.values())
    fivexx = sum(n for (_, what), n in legit.failures.items() if what == "5xx")

    checks = [
        ("rss", growth == growth and growth < RSS_GROWTH_TARGET,
         f"RSS grew {growth * 100:+.1f}% after warm-up (target < {RSS_GROWTH_TARGET:.0%})"),
        ("legit-5xx", fivexx == 0, f"{fivexx} 5xx answered to legitimate clients (target 0)"),
        ("legit-failures", failed_requests == 0,
         f"{failed_requests} legitimate requests failed (target 0)"),
        ("crash", survived, f"server: {exit_note}"),
        ("throughput", ratio >= THROUGHPUT_TARGET,
         f"throughput while attacked {ratio:.2f}x the unattacked (target >= "
         f"{THROUGHPUT_TARGET})"),
    ]
    lines = [f"soak: {(t2.time - t0.time) / 60:.1f} min, {args.workers} legitimate workers "
             f"({args.min_mib}-{args.max_mib} MiB files), abuse x{args.abuse_scale:g}; "
             f"server {harness.server_binary()}"]
    lines.append("phase       seconds  server CPU s  CPU %  legit MB/s  cycles  "
                 "clients CPU %  abusers CPU %  others CPU %")
    for name, a, b in phases:
        wall = max(1e-9, b.time - a.time)
        server_cpu = b.server_cpu - a.server_cpu
        abuser_cpu = b.abuser_cpu - a.abuser_cpu
        client_cpu = b.client_cpu - a.client_cpu
        others = max(0.0, b.foreign_since - server_cpu - abuser_cpu)
        lines.append(f"{name:<10} {wall:8.0f}  {server_cpu:12.1f}  {server_cpu / wall * 100:5.0f}"
                     f"  {rate[name]:10.1f}  {legit.cycles[name]:6d}  "
                     f"{client_cpu / wall * 100:13.0f}  {abuser_cpu / wall * 100:13.0f}  "
                     f"{others / wall * 100:12.0f}")
    lines.append(f"throughput: attacked/unattacked {ratio:.2f}x (target >= {THROUGHPUT_TARGET})")
    lines.append(f"RSS MiB: warm-up end {rss_warm:.1f}, max after {rss_max:.1f}, end {rss_end:.1f}"
                 f", growth {growth * 100:+.1f}% (target < {RSS_GROWTH_TARGET:.0%}); anon "
                 f"{anon[0]:.1f} -> {anon[1]:.1f}; open fds while attacked max "
                 f"{max(fds) if fds else 0}")
    tenths = [sampler.at(t0.time + k * (t2.time - t0.time) / 10, "VmRSS") for k in range(1, 11)]
    lines.append("RSS MiB at each tenth of the run: " + " ".join(f"{v:.0f}" for v in tenths)
                 + f" (attacked from {(t1.time - t0.time) / (t2.time - t0.time) * 10:.0f}/10"
                 + f", warm-up to {(warm_end - t0.time) / (t2.time - t0.time) * 10:.1f}/10)")
    lines.append(f"legit requests: {sum(legit.requests.values())} ("
                 + ", ".join(f"{k} {v}" for k, v in sorted(legit.requests.items()))
                 + f"); failed {failed_requests}, of them 5xx {fivexx}")
    for (call, what), count in sorted(legit.failures.items()):
        lines.append(f"  failed: {call} {what}: {count}")
    lines += [f"  {detail}" for detail in legit.failure_details]
    lines.append(f"server: {exit_note}; log {server.log_path}" if args.keep
                 else f"server: {exit_note}; {log_summary(server)}")
    lines.append("abusive attempts by kind: outcomes (HTTP statuses; closed, reset, silent: "
                 "ended without an answer)")
    for kind, entry in outcomes.items():
        counts = collections.Counter(entry["outcomes"])
        cut = entry.get("cut_after")
        cut_text = f"; cut after {cut[0]:.0f}/{cut[1]:.0f}/{cut[2]:.0f} s min/median/max" \
            if cut else ""
        shown = counts if args.details else by_outcome(counts)
        lines.append(f"  {kind} from {entry['source']}: {sum(counts.values())}{cut_text}")
        lines += wrap_outcomes(shown)
    lines += [f"note: {note}" for note in abuse_notes(outcomes)]
    unjudged = ("rss", "throughput") if args.smoke else ()
    failed = [name for name, ok, _ in checks if not ok and name not in unjudged]
    for name, ok, text in checks:
        verdict = "----" if name in unjudged else "PASS" if ok else "FAIL"
        lines.append(f"{verdict} {name}: {text}")
    met = "all judged targets met (smoke)" if args.smoke else "all targets met"
    lines.append("result: " + (met if not failed else "FAILED: " + ", ".join(failed)))
    return "\n".join(lines), not failed


def by_outcome(counts):
    """Variant labels ("te-twice:501", "api:cl-plus:400") folded into their outcome."""
    folded = collections.Counter()
    for label, count in counts.items():
        folded[label.rpartition(":")[2]] += count
    return folded


# Outcomes that are no target's business but deserve a look.
EXPECTED_PIPELINES = ("chunked-then-pipelined:",)
RANGE_VARIANTS = ("many-ranges:", "huge-range:")


def abuse_notes(outcomes):
    notes = []
    for kind, entry in outcomes.items():
        for label, count in sorted(entry["outcomes"].items()):
            statuses = [s for s in re.findall(r"\b\d{3}\b", label)]
            # By design: 503 refuses a connection past --max-connections, 501 a transfer
            # coding other than chunked alone.
            if any(s.startswith("5") and s not in ("501", "503") for s in statuses):
                notes.append(f"{kind} got a 5xx: {label} x{count}")
            if kind == "bad-presigned" and any(s.startswith("2") for s in statuses) \
                    and not any(v in label for v in RANGE_VARIANTS):
                notes.append(f"a bad presigned URL was served: {label} x{count}")
            if kind == "smuggling" and any(s.startswith("2") for s in statuses[1:]) \
                    and not any(v in label for v in EXPECTED_PIPELINES):
                notes.append(f"a smuggled request was served: {label} x{count}")
            if label.startswith("error:") or label == "attempt-timeout":
                notes.append(f"{kind}: {label} x{count} (on the abusers' side)")
    return notes


def wrap_outcomes(counts, width=96):
    lines, line = [], "    "
    for label, count in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])):
        item = f"{label} {count}"
        if len(line) + len(item) + 2 > width and line.strip():
            lines.append(line.rstrip(", "))
            line = "    "
        line += item + ", "
    if line.strip():
        lines.append(line.rstrip(", "))
    return lines


def log_summary(server):
    """Counts of the server's warn and error lines by msg, for a look at what it saw."""
    counts = collections.Counter()
    try:
        with open(server.log_path, "rb") as f:
            for raw in f:
                line = raw.decode(errors="replace")
                if "level=warn" in line or "level=error" in line:
                    fields = harness.log_fields(line)
                    counts[f"{fields.get('level')} {fields.get('msg') or fields.get('path')}"] += 1
    except OSError:
        return "no server log"
    if not counts:
        return "log: no warn or error lines"
    return "log: " + ", ".join(f"{k} x{v}" for k, v in counts.most_common(6))


if __name__ == "__main__":
    sys.exit(main())
