"""Harness for the browser tests: real headless Chromium (Debian's /usr/bin/chromium,
driven by playwright-core from tests/browser/node_modules) against the real
audiodrop-server started by the integration harness.

Three parts:
- `StaticSite`: the pages under test on an origin of their own, a threaded http.server
  on 127.0.0.1 port 0 serving tests/browser/pages and the web bundle (the client as
  one ES module, the Uppy example page) with `Cache-Control: no-store`. A page there
  calling the server is cross-origin, as a partner's web app is, so CORS is exercised.
- `Driver`: one `node drive.mjs <scenario> <json>` process per browser session (the
  driver owns Playwright; see drive.mjs). It prints JSON lines: checkpoints, at which it
  waits for `resume()` so the test can look at the server in between, and one result.
- `npm_ci()`: installs tests/browser/node_modules with `npm ci` when it is missing or
  older than package-lock.json (CTest runs it once, as the fixture `browser.npm_ci`).

Each test saves a screenshot of its page to $AUDIODROP_ARTIFACTS_DIR/browser/<test>.png
(default <build dir>/test-artifacts) and names the file in its output.

The web bundle comes from $AUDIODROP_WEB_DIR (CTest sets it to <build dir>/web; make
one with `node clients/js/build-web.mjs DIR`). Everything listens on 127.0.0.1 only,
every wait is bounded, and nothing is fetched from outside.
"""

import fcntl
import functools
import hashlib
import http.server
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(REPO, "tests", "integration"))

import harness  # noqa: E402

PAGES_DIR = os.path.join(HERE, "pages")
DRIVER = os.path.join(HERE, "drive.mjs")
NODE = "/usr/bin/node"
NPM = "/usr/bin/npm"
NPM_CI_TIMEOUT = 300  # seconds
DRIVER_TIMEOUT = 240  # seconds for one whole browser session, launch to close
CHECKPOINT_TIMEOUT = 120  # seconds to wait for the driver to reach a checkpoint


# node_modules -----------------------------------------------------------------
def npm_ci():
    """`npm ci` in tests/browser when node_modules is missing or older than
    package-lock.json (npm writes node_modules/.package-lock.json on every install, so
    its time is the install's). Serialised by a lock file, so concurrent callers install
    once. Returns True if it installed."""
    # The lock lives outside the tree (npm ci replaces node_modules wholesale).
    lock_path = os.path.join(tempfile.gettempdir(), "audiodrop-browser-npm-ci-"
                             + hashlib.sha256(HERE.encode()).hexdigest()[:16] + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _node_modules_current():
            return False
        proc = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=HERE,
                              stdin=subprocess.DEVNULL, capture_output=True,
                              timeout=NPM_CI_TIMEOUT)
        if proc.returncode != 0:
            raise RuntimeError(f"npm ci in {HERE} exited {proc.returncode}:\n"
                               + proc.stdout.decode(errors="replace")
                               + proc.stderr.decode(errors="replace"))
        if not _node_modules_current():
            raise RuntimeError(f"npm ci in {HERE} left node_modules older than "
                               "package-lock.json")
        return True


def _node_modules_current():
    stamp = os.path.join(HERE, "node_modules", ".package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    installed = os.path.isdir(os.path.join(HERE, "node_modules", "playwright-core"))
    return (installed and os.path.exists(stamp)
            and os.path.getmtime(stamp) >= os.path.getmtime(lock))


# Where things are -------------------------------------------------------------
def web_dir():
    """The bundle of the web client (audiodrop-client.js, uppy-example.html, ...)."""
    path = os.environ.get("AUDIODROP_WEB_DIR") or os.path.join(_build_dir(), "web")
    path = os.path.abspath(path)
    if not os.path.isfile(os.path.join(path, "audiodrop-client.js")):
        raise RuntimeError(f"no audiodrop-client.js in {path}: set AUDIODROP_WEB_DIR to the "
                           "output of `node clients/js/build-web.mjs DIR`")
    return path


def _build_dir():
    """The build dir the server binary comes from (<build>/bin/audiodrop-server)."""
    return os.path.dirname(os.path.dirname(harness.server_binary()))


def artifacts_dir():
    path = os.environ.get("AUDIODROP_ARTIFACTS_DIR") or os.path.join(_build_dir(), "test-artifacts")
    path = os.path.join(os.path.abspath(path), "browser")
    os.makedirs(path, exist_ok=True)
    return path


def screenshot_path(test, suffix=""):
    """Where `test` (a unittest.TestCase) leaves its screenshot:
    <module>.<method><suffix>.png."""
    module = type(test).__module__
    if module == "__main__":
        module = os.path.splitext(os.path.basename(sys.argv[0]))[0]
    return os.path.join(artifacts_dir(), f"{module}.{test._testMethodName}{suffix}.png")


# Test files -------------------------------------------------------------------
_files = []  # what random_file() and file_of() made, for cleanup_files()


def random_file(size, suffix=".mp3"):
    """(path, md5 hex) of a new temp file of `size` random bytes. Its mtime stays put,
    so the File a page gets from it has the same lastModified each time it is chosen
    (the client's resume key depends on it). Removed by cleanup_files()."""
    fd, path = tempfile.mkstemp(prefix="audiodrop-browser-", suffix=suffix)
    digest = hashlib.md5()
    with os.fdopen(fd, "wb") as f:
        left = size
        while left:
            block = os.urandom(min(left, harness.MiB))
            digest.update(block)
            f.write(block)
            left -= len(block)
    _files.append(path)
    return path, digest.hexdigest()


def file_of(data, name):
    """A temp file named `name` holding `data` (in a directory of its own)."""
    directory = tempfile.mkdtemp(prefix="audiodrop-browser-")
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(data)
    _files.extend((directory, path))  # removed last to first
    return path


def cleanup_files():
    for path in reversed(_files):
        try:
            os.rmdir(path) if os.path.isdir(path) else os.remove(path)
        except OSError:
            pass
    _files.clear()


# The pages' origin ------------------------------------------------------------
class StaticSite:
    """tests/browser/pages, then the web bundle, on http://127.0.0.1:<port>; nothing
    cached. Use as a context manager or start()/stop()."""

    TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
             ".mjs": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8",
             ".json": "application/json", ".map": "application/json", ".wasm": "application/wasm",
             ".png": "image/png", ".svg": "image/svg+xml", ".ico": "image/x-icon"}

    def __init__(self, *roots):
        self.roots = [os.path.abspath(r) for r in (roots or (PAGES_DIR, web_dir()))]
        self._httpd = None
        self._thread = None

    @property
    def origin(self):
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    def url(self, path, fragment=None):
        url = self.origin + "/" + path.lstrip("/")
        if fragment:
            url += "#" + urllib.parse.urlencode(fragment, quote_via=urllib.parse.quote)
        return url

    def start(self):
        handler = functools.partial(_StaticHandler, site=self)
        self._httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever,
                                        kwargs={"poll_interval": 0.1}, daemon=True)
        self._thread.start()
        return self

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._thread.join(timeout=10)
            self._httpd = None

    def resolve(self, url_path):
        """The file a URL path names in the first root that has it, or None. Never a
        file outside the roots."""
        rel = urllib.parse.unquote(urllib.parse.urlsplit(url_path).path).lstrip("/")
        if not rel:
            return None
        for root in self.roots:
            path = os.path.realpath(os.path.join(root, rel))
            if path.startswith(os.path.realpath(root) + os.sep) and os.path.isfile(path):
                return path
        return None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
        return False


class _StaticHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def __init__(self, *args, site, **kwargs):
        self.site = site
        super().__init__(*args, **kwargs)

    def do_GET(self):
        self._serve(body=True)

    def do_HEAD(self):
        self._serve(body=False)

    def _serve(self, body):
        path = self.site.resolve(self.path)
        if path is None:
            payload, status, ctype = b"not found\n", 404, "text/plain"
        else:
            with open(path, "rb") as f:
                payload = f.read()
            status = 200
            ctype = StaticSite.TYPES.get(os.path.splitext(path)[1], "application/octet-stream")
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(payload)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if body:
            self.wfile.write(payload)

    def log_message(self, *args):
        pass  # quiet: the test's output is for its findings


# The browser ------------------------------------------------------------------
class DriverError(AssertionError):
    pass


class Driver:
    """One `node drive.mjs <scenario> <args JSON>` run: a fresh headless Chromium.

    The driver prints one JSON object a line on stdout: {"checkpoint": name, ...} when it
    waits for resume(), and finally {"result": {...}} or {"error": "..."}; its stderr is
    kept for failure reports. All of it within DRIVER_TIMEOUT seconds.
    """

    def __init__(self, scenario, **args):
        self.scenario = scenario
        self.args = args
        self.stderr_path = None
        self.proc = None
        self._lines = queue.Queue()
        self.deadline = None

    def start(self):
        npm_ci()  # cheap when up to date; CTest's fixture has done it already
        fd, self.stderr_path = tempfile.mkstemp(prefix="audiodrop-drive-", suffix=".log")
        self._stderr = os.fdopen(fd, "wb")
        env = dict(os.environ)
        env["NO_PROXY"] = env["no_proxy"] = "127.0.0.1,localhost"
        self.proc = subprocess.Popen([NODE, DRIVER, self.scenario, json.dumps(self.args)],
                                     cwd=HERE, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._stderr, env=env)
        self.deadline = time.monotonic() + DRIVER_TIMEOUT
        threading.Thread(target=self._read, daemon=True).start()
        return self

    def _read(self):
        for raw in self.proc.stdout:
            line = raw.decode(errors="replace").strip()
            if line.startswith("{"):
                try:
                    self._lines.put(json.loads(line))
                    continue
                except ValueError:
                    pass
            self._lines.put({"noise": line})
        self._lines.put(None)  # EOF

    def _next(self, timeout):
        """The next JSON line, skipping non-JSON noise; None at EOF."""
        deadline = min(time.monotonic() + timeout, self.deadline)
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise DriverError(f"drive.mjs {self.scenario}: nothing within {timeout} s\n"
                                  + self.stderr_tail())
            try:
                item = self._lines.get(timeout=remaining)
            except queue.Empty:
                continue
            if item is None or "noise" not in item:
                return item

    def wait_checkpoint(self, name, timeout=CHECKPOINT_TIMEOUT):
        """The data of checkpoint `name`; the driver waits there until resume()."""
        item = self._next(timeout)
        if item is None or item.get("checkpoint") != name:
            raise DriverError(f"drive.mjs {self.scenario}: expected checkpoint {name!r}, "
                              f"got {item!r}\n" + self.stderr_tail())
        return item

    def resume(self):
        self.proc.stdin.write(b"go\n")
        self.proc.stdin.flush()

    def result(self):
        """The driver's result; raises DriverError if it failed or printed none."""
        item = self._next(max(0.0, self.deadline - time.monotonic()))
        try:
            self.proc.wait(timeout=max(1.0, self.deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            pass
        if item is None or "result" not in item:
            raise DriverError(f"drive.mjs {self.scenario} failed: {item!r}\n" + self.stderr_tail())
        return item["result"]

    def stderr_tail(self, limit=6000):
        if not self.stderr_path:
            return ""
        self._stderr.flush()
        with open(self.stderr_path, "rb") as f:
            text = f.read()[-limit:].decode(errors="replace")
        return f"--- drive.mjs stderr ---\n{text}" if text else ""

    def close(self):
        if self.proc is not None:
            if self.proc.poll() is None:
                # SIGTERM first: Playwright then closes the Chromium it launched.
                self.proc.terminate()
                try:
                    self.proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    self.proc.kill()
            self.proc.wait(timeout=10)
            for pipe in (self.proc.stdin, self.proc.stdout):
                try:
                    pipe.close()
                except OSError:
                    pass
            self.proc = None
        if self.stderr_path:
            self._stderr.close()
            os.remove(self.stderr_path)
            self.stderr_path = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.close()
        return False


def summary(got, limit=300):
    """A short account of a driver result for assertion messages: the outcome, the
    page's errors and console errors (each cut to `limit` characters), the PUTs."""
    cut = lambda text: text if len(text) <= limit else text[:limit] + "..."  # noqa: E731
    lines = [f"result: {got.get('result')!r}", f"error: {got.get('error')!r}"]
    lines += [f"page error: {cut(e)}" for e in got.get("pageErrors", [])[:5]]
    errors = [m["text"] for m in got.get("console", []) if m["type"] == "error"]
    lines += [f"console error: {cut(text)}" for text in errors[:5]]
    if len(errors) > 5:
        lines.append(f"... and {len(errors) - 5} more console errors")
    puts = [(p["phase"], p["partNumber"], p["status"] or p["failure"]) for p in got.get("puts", [])]
    lines.append(f"PUTs (phase, part, outcome): {puts}")
    return "\n".join(lines)


def drive(scenario, **args):
    """Runs a scenario without checkpoints and returns its result."""
    with Driver(scenario, **args) as driver:
        return driver.result()


# The server's log -------------------------------------------------------------
def request_lines(server, listener=None, method=None, path=None, status=None):
    """The fields of the server's request log lines that match every given field."""
    wanted = {"listener": listener, "method": method, "path": path, "status": status}
    wanted = {k: str(v) for k, v in wanted.items() if v is not None}
    with open(server.log_path, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()
    out = []
    for line in lines:
        fields = harness.log_fields(line)
        if "listener" in fields and all(fields.get(k) == v for k, v in wanted.items()):
            out.append(fields)
    return out


def wait_request_lines(server, count, timeout=10, **match):
    """Polls the log until at least `count` request lines match (the server writes a
    line once its answer is sent, so the log can trail what the browser saw); returns
    them all, so a caller can check there are not more."""
    found = []

    def enough():
        found[:] = request_lines(server, **match)
        return len(found) >= count

    harness.wait_for(enough, timeout, f"{count} log lines matching {match}", interval=0.05)
    return list(found)


def object_path(download_url):
    """The storage path (/<bucket>/<key>) of a presigned URL, as the log names it."""
    return urllib.parse.urlsplit(download_url).path


# Tests ------------------------------------------------------------------------
class BrowserTestCase(unittest.TestCase):
    """For the class: the pages' origin (a StaticSite, unless `serve_pages` is False),
    one server started with server_args(the pages' origin) (by default it allows that
    origin by CORS), and one partner. Each test names its screenshot with
    screenshot()."""

    serve_pages = True

    @classmethod
    def server_args(cls, page_origin):
        return ("--cors-allowed-origins", page_origin)

    @classmethod
    def make_server(cls, args):
        """The (unstarted) server; a scale-out test makes a replica instead."""
        return harness.Server(*args)

    @classmethod
    def setUpClass(cls):
        cls.site = StaticSite().start() if cls.serve_pages else None
        try:
            cls.server = cls.make_server(cls.server_args(cls.site and cls.site.origin)).start()
            cls.api = harness.Api(cls.server)
            cls.partner = harness.create_partner(cls.server)
        except BaseException:
            if cls.site:
                cls.site.stop()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.stop()
        if cls.site:
            cls.site.stop()

    def user_token(self):
        return self.api.new_user(self.partner)

    def screenshot(self, suffix=""):
        """The path for this test's screenshot (drive.mjs saves it), said in the output."""
        path = screenshot_path(self, suffix)
        print(f"\n[browser] screenshot: {path}", flush=True)
        return path


def main():
    """harness.main(), with the temp files of this module removed at the end."""
    try:
        harness.main()
    finally:
        cleanup_files()


if __name__ == "__main__":
    if sys.argv[1:] == ["npm-ci"]:
        print("npm ci: " + ("installed" if npm_ci() else "node_modules up to date"))
    else:
        sys.exit("usage: browser.py npm-ci")
