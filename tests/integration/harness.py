"""Harness for the audiodrop integration tests.

Starts the real `audiodrop-server` binary with a temporary data directory on loopback
ports the kernel picks (it binds port 0 and names the ports in its ready line, which
is read here), and drives it over HTTP. Everything here talks to 127.0.0.1 only;
every request has a timeout and every wait loop is bounded in tries and time.

The binary comes from $AUDIODROP_SERVER (CTest sets it); run a test file directly
with `AUDIODROP_SERVER=build/bin/audiodrop-server /usr/bin/python3 test_x.py`.
"""

import base64
import calendar
import hashlib
import http.client
import json
import math
import os
import re
import secrets
import shutil
import signal
import socket
import statistics
import string
import subprocess
import sys
import tempfile
import threading
import time
import unittest
import urllib.parse
import xml.etree.ElementTree as ET
from concurrent.futures import ThreadPoolExecutor

import requests

import openapi_check

KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB
CHUNK_SIZE = 5 * MiB
MAX_PARTS = 10000
BASE_PATH = "/developer/api"
TIMEOUT = 30  # seconds, for every single HTTP request
START_TIMEOUT = 60  # seconds from launching a server to its ready line
POLL_INTERVAL = 0.05  # seconds between two looks at a state being waited for
STORAGE_REGION = "us-east-1"

# Loopback only: never let a proxy from the environment see our traffic.
for _var in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"):
    os.environ.pop(_var, None)
os.environ["NO_PROXY"] = os.environ["no_proxy"] = "127.0.0.1,localhost"

# Servers started by this process, so their logs can be shown when a test fails.
_servers = []


def built_binary(env_var, name):
    """A binary of this build: from $env_var (CTest sets it), else build/bin/<name>."""
    path = os.environ.get(env_var)
    if not path:
        here = os.path.dirname(os.path.abspath(__file__))
        path = os.path.join(here, "..", "..", "build", "bin", name)
    path = os.path.abspath(path)
    if not os.access(path, os.X_OK):
        raise RuntimeError(f"{name} binary not found at {path}; set {env_var}")
    return path


def server_binary():
    return built_binary("AUDIODROP_SERVER", "audiodrop-server")


def hold_port(port=0):
    """(socket, port): a socket bound to 127.0.0.1:`port` (0: a free one the kernel
    picks) with SO_REUSEADDR, never listening. While it is open the port is out of
    others' reach (connect() and bind(0) never pick it, other binds fail), except for a
    listener that also sets SO_REUSEADDR and binds it by number (audiodrop-server,
    PostgreSQL, Ceph): Linux lets that one listen beside a socket that does not.
    Connections are refused while nothing listens there. OSError if it is taken."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", port))
    except OSError:
        sock.close()
        raise
    return sock, sock.getsockname()[1]


def listening_ports(pid):
    """The TCP ports process `pid` listens on, from /proc: the kernel's own account of
    what a daemon that bound port 0 (and does not say which port it got) has."""
    inodes = set()
    fd_dir = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(fd_dir)
    except OSError:
        return set()  # exited
    for fd in fds:
        try:
            target = os.readlink(os.path.join(fd_dir, fd))
        except OSError:
            continue  # closed meanwhile
        if target.startswith("socket:["):
            inodes.add(target[len("socket:["):-1])
    ports = set()
    for table in ("tcp", "tcp6"):
        try:
            with open(f"/proc/{pid}/net/{table}") as f:
                rows = [line.split() for line in f.readlines()[1:]]
        except OSError:
            continue
        for row in rows:
            # local_address is ADDR:PORT in hex; state 0A is LISTEN; column 9 the inode.
            if row[3] == "0A" and row[9] in inodes:
                ports.add(int(row[1].rpartition(":")[2], 16))
    return ports


# Sockets that keep the ports of refused_ports() until the process exits.
_refusing = []


def refused_ports(count):
    """`count` distinct ports on 127.0.0.1 where connections are refused for as long
    as this process lives (held by hold_port(); our servers bind port 0, never these)."""
    ports = []
    for _ in range(count):
        sock, port = hold_port()
        _refusing.append(sock)
        ports.append(port)
    return ports


# The old name, for callers not yet moved to refused_ports(). It no longer hands out
# ports for a server: servers bind port 0 and say which port they got.
free_ports = refused_ports


_LOGFMT_FIELD = re.compile(r'([A-Za-z_][A-Za-z0-9_]*)=("(?:[^"\\]|\\.)*"|\S*)')


def log_fields(line):
    """The fields of one server log line, logfmt (`key=value`, values with spaces
    JSON-quoted) or JSON (--log-format json); {} for anything else."""
    line = line.strip()
    if line.startswith("{"):
        try:
            fields = json.loads(line)
        except ValueError:
            return {}
        return fields if isinstance(fields, dict) else {}
    fields = {}
    for match in _LOGFMT_FIELD.finditer(line):
        key, value = match.groups()
        fields[key] = json.loads(value) if value.startswith('"') else value
    return fields


def port_of(address):
    """The port of a "host:port" or "[v6]:port" address as the server logs it."""
    return int(address.rpartition(":")[2])


def random_text(n, alphabet=string.ascii_letters + string.digits):
    return "".join(secrets.choice(alphabet) for _ in range(n))


def random_bytes(n):
    return os.urandom(n)


def md5_hex(data):
    return hashlib.md5(data).hexdigest()


def md5_b64(data):
    return base64.b64encode(hashlib.md5(data).digest()).decode()


def quoted(etag_hex):
    return f'"{etag_hex}"'


def split_parts(data, chunk_size):
    """The part bodies of `data` for a given ChunkSize, part 1 first."""
    return [data[i:i + chunk_size] for i in range(0, len(data), chunk_size)] or [b""]


def expected_chunk_size(filesize):
    """ChunkSize per the contract: 5 MiB, grown in whole MiB so parts <= 10,000."""
    chunk = CHUNK_SIZE
    while math.ceil(filesize / chunk) > MAX_PARTS:
        chunk += MiB
    return chunk


class Server:
    """One audiodrop-server process on loopback ports the kernel picks.

    Use as a context manager, or call start()/stop(). The first start() binds port 0
    for both listeners and reads the ports from the server's ready line (`port` and
    `storage_port` are None until then; `storage_port` stays None on a remote S3).
    stop() sends SIGTERM and checks the exit code is 0. kill9() and restart() keep the
    data dir, ports and storage keys, so presigned URLs handed out before a restart
    stay valid: later starts ask for the same ports, and while the server is down they
    stay bound here (without listening) so that no other process takes them.
    """

    def __init__(self, *extra_args, region=None, token_rpm=1000, env=None, data_dir=None,
                 storage_keys=None, explicit_keys=True, base_path=BASE_PATH, tls_ca=None):
        # "{port}" and "{storage_port}" in an argument become the server's ports. They
        # are known after the first start only, so such an argument can be added for a
        # restart; before, the server derives its public URLs from the bound ports.
        self.extra_args = [str(a) for a in extra_args]
        self.base_path = base_path
        # With TLS on both listeners (the --tls-* options in extra_args): the CA file
        # their certificates chain to; the URLs here then say https.
        self.tls_ca = tls_ca
        self.scheme = "https" if tls_ca else "http"
        self.region = region
        self.token_rpm = token_rpm
        self.extra_env = dict(env or {})
        self.root = tempfile.mkdtemp(prefix="audiodrop-itest-")
        self.data_dir = data_dir or os.path.join(self.root, "data")
        os.makedirs(self.data_dir, exist_ok=True)
        self.log_path = os.path.join(self.root, "server.log")
        self.port = None
        self.storage_port = None
        self._port_holders = []
        if storage_keys:
            self.access_key, self.secret_key = storage_keys
        else:
            self.access_key = "AKIA" + random_text(16, string.ascii_uppercase + string.digits)
            self.secret_key = random_text(40)
        # Without explicit keys the server generates its own (boto3 tests need them).
        self.explicit_keys = explicit_keys
        self.proc = None
        self.starts = 0
        _servers.append(self)

    # URLs -----------------------------------------------------------------------
    @property
    def base_url(self):
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def api_url(self):
        return self.base_url + self.base_path

    @property
    def storage_url(self):
        return f"{self.scheme}://127.0.0.1:{self.storage_port}"

    # Process --------------------------------------------------------------------
    def command(self):
        cmd = [server_binary(), "serve",
               "--listen", f"127.0.0.1:{self.port or 0}",
               "--storage-listen", f"127.0.0.1:{self.storage_port or 0}",
               "--data-dir", self.data_dir]
        if self.explicit_keys:
            cmd += ["--storage-access-key", self.access_key,
                    "--storage-secret-key", self.secret_key]
        if self.region:
            cmd += ["--region", self.region]
        if self.base_path != BASE_PATH:
            cmd += ["--base-path", self.base_path]
        if self.token_rpm is not None:
            cmd += ["--token-requests-per-minute", str(self.token_rpm)]
        return cmd + [self._with_ports(a) for a in self.extra_args]

    def _with_ports(self, arg):
        if "{port}" not in arg and "{storage_port}" not in arg:
            return arg
        if self.port is None:
            raise ValueError(f"{arg!r}: the ports are known only after the first start; "
                             "without --public-url the server derives its URLs from them")
        return arg.replace("{port}", str(self.port)).replace("{storage_port}",
                                                              str(self.storage_port))

    def env(self):
        env = dict(os.environ)
        env.update(self.extra_env)
        return env

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def start(self):
        assert not self.running(), "server already running"
        self.starts += 1
        self._hold_ports()
        command = self.command()
        with open(self.log_path, "ab") as log:
            log.write(f"===== start #{self.starts}: {' '.join(command)}\n".encode())
            log.flush()
            since = log.tell()
            self.proc = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, env=self.env())
        ready = self.wait_ready(since)
        port = port_of(ready["api"])
        storage_port = None if ready["storage"] == "none" else port_of(ready["storage"])
        if self.port is not None and (port, storage_port) != (self.port, self.storage_port):
            raise RuntimeError(f"restarted on ports {port}, {storage_port} instead of "
                               f"{self.port}, {self.storage_port}\n" + self.log_tail())
        self.port, self.storage_port = port, storage_port
        self.wait_healthy()
        return self

    def wait_ready(self, since, timeout=START_TIMEOUT, interval=POLL_INTERVAL):
        """Polls the log past offset `since` for the server's ready line (msg=ready, see
        src/server/runtime.cpp) and returns its fields; at most timeout / interval looks
        and `timeout` seconds."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / interval) + 1):
            with open(self.log_path, "rb") as f:
                f.seek(since)
                text = f.read().decode(errors="replace")
            # Only whole lines: the last one may still be being written.
            for line in text.splitlines(keepends=True):
                if line.endswith("\n"):
                    fields = log_fields(line)
                    if fields.get("msg") == "ready" and "api" in fields and "storage" in fields:
                        return fields
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode} while "
                                   "starting\n" + self.log_tail())
            if time.monotonic() > deadline:
                break
            time.sleep(interval)
        raise RuntimeError(f"no ready line from the server within {timeout} s\n"
                           + self.log_tail())

    def _hold_ports(self):
        """Holds the server's ports (hold_port()) from the moment it is seen down, so
        that no other process takes them before it restarts; the restarted server binds
        beside the holders. Taken once, kept until cleanup(); what remains is the gap
        between the server's exit and this call."""
        if self._port_holders or self.port is None:
            return
        for port in (self.port, self.storage_port):
            if port is None:
                continue
            try:
                self._port_holders.append(hold_port(port)[0])
            except OSError:
                pass  # taken after all: the restart will say so

    def wait_healthy(self, tries=200, interval=0.1):
        """Polls /healthz; at most `tries` attempts (about tries * interval seconds)."""
        deadline = time.monotonic() + tries * interval + 10
        with http_session() as session:
            session.verify = self.tls_ca or True
            for _ in range(tries):
                if self.proc.poll() is not None:
                    raise RuntimeError(f"server exited with {self.proc.returncode} while "
                                       "starting\n" + self.log_tail())
                try:
                    if session.get(self.base_url + "/healthz", timeout=2).status_code == 200:
                        return
                except requests.RequestException:
                    pass
                if time.monotonic() > deadline:
                    break
                time.sleep(interval)
        raise RuntimeError("server did not answer /healthz in time\n" + self.log_tail())

    def stop(self, timeout=30):
        """SIGTERM, wait, and insist on exit code 0."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(signal.SIGTERM)
        try:
            rc = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            self._hold_ports()
            raise AssertionError(f"server did not exit within {timeout}s of SIGTERM\n"
                                 + self.log_tail())
        self._hold_ports()
        if rc != 0:
            raise AssertionError(f"server exited with {rc} after SIGTERM\n" + self.log_tail())
        return rc

    def kill9(self):
        if self.running():
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=10)
            self._hold_ports()

    def restart(self):
        """Stops (gracefully, if still running) and starts on the same data dir and ports."""
        if self.running():
            self.stop()
        return self.start()

    def log_events(self, msg):
        """The fields of every line of this server's log (all its starts) with msg=`msg`."""
        return self.log_lines(msg=msg)

    def log_lines(self, **match):
        """The fields of every line of this server's log (all its starts) whose fields
        include all of `match`."""
        try:
            with open(self.log_path, "rb") as f:
                lines = f.read().decode(errors="replace").splitlines()
        except OSError:
            return []
        return [fields for fields in map(log_fields, lines)
                if all(str(fields.get(k)) == str(v) for k, v in match.items())]

    def wait_log_lines(self, timeout=10, **match):
        """log_lines(**match) once there is at least one (the log is written by a
        background thread), polled for at most `timeout` seconds; [] if none came."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / POLL_INTERVAL) + 1):
            found = self.log_lines(**match)
            if found or time.monotonic() > deadline:
                return found
            time.sleep(POLL_INTERVAL)
        return self.log_lines(**match)

    def log_tail(self, limit=12000):
        try:
            with open(self.log_path, "rb") as f:
                data = f.read()
        except OSError:
            return "(no server log)"
        text = data[-limit:].decode(errors="replace")
        return f"--- server log {self.log_path} (last {min(limit, len(data))} bytes) ---\n{text}"

    def cleanup(self):
        if self.running():
            self.kill9()
        for holder in self._port_holders:
            holder.close()
        self._port_holders = []
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self):
        return self.start()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None:
            self.stop()
        else:
            self.kill9()
        # The bytes go now (benchmarks leave gigabytes); the log stays until main()
        # has shown it for a failure.
        if os.path.dirname(self.data_dir) == self.root:
            shutil.rmtree(self.data_dir, ignore_errors=True)
        return False


def partner_command(server, *args, env=None):
    """Runs `audiodrop-server partner ARGS` on the server's stores and returns the one
    JSON line it prints."""
    run_env = server.env()
    if server.region:
        run_env["AUDIODROP_REGION"] = server.region
    run_env.update(env or {})
    proc = subprocess.run([server_binary(), "partner", *args, "--data-dir", server.data_dir],
                          capture_output=True, timeout=60, env=run_env, stdin=subprocess.DEVNULL)
    what = f"partner {args[0]}"
    if proc.returncode != 0:
        raise AssertionError(f"{what} exited {proc.returncode}: {proc.stderr.decode(errors='replace')}")
    out = proc.stdout.decode().strip()
    lines = out.splitlines()
    if len(lines) != 1:
        raise AssertionError(f"{what} must print exactly one JSON line, got: {out!r}")
    return json.loads(lines[0])


def create_partner(server, name=None, env=None):
    """Runs `audiodrop-server partner create` on the server's data dir."""
    cred = partner_command(server, "create", "--name", name or ("partner-" + random_text(8)),
                           env=env)
    if not (isinstance(cred, dict) and cred.get("client_id") and cred.get("secret_key")):
        raise AssertionError(f"partner create printed {cred!r}")
    return cred


def revoke_tokens(server, client_id):
    """Runs `audiodrop-server partner revoke-tokens CLIENT_ID`."""
    printed = partner_command(server, "revoke-tokens", client_id)
    if printed != {"client_id": client_id, "tokens_revoked": True}:
        raise AssertionError(f"partner revoke-tokens printed {printed!r}")


def http_session():
    s = requests.Session()
    s.trust_env = False  # no proxies, no netrc
    # Every answer from one of our servers is checked against docs/openapi.yaml.
    s.hooks["response"].append(
        lambda resp, stream=False, **_: openapi_check.check_response(resp, _servers, stream))
    return s


def basic_auth(client_id, secret_key):
    return "Basic " + base64.b64encode(f"{client_id}:{secret_key}".encode()).decode()


def no_5xx(resp):
    """No request in this suite deserves a 5xx: every answer passes through here."""
    if resp.status_code >= 500:
        raise AssertionError(f"{resp.request.method} {resp.url} -> {resp.status_code}: "
                             f"{resp.text[:2000]}")
    return resp


class Api:
    """Thin client for the JSON API of one server; every answer is checked for 5xx."""

    def __init__(self, server):
        self.server = server
        self.http = http_session()
        self.http.verify = server.tls_ca or True

    def close(self):
        self.http.close()

    def request(self, method, path, *, token=None, auth=None, json_body=None, data=None,
                headers=None, params=None, timeout=TIMEOUT):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        if auth is not None:
            h["Authorization"] = auth
        kwargs = {}
        if json_body is not None:
            kwargs["json"] = json_body
        if data is not None:
            kwargs["data"] = data
        resp = self.http.request(method, self.server.api_url + path, headers=h, params=params,
                                 timeout=timeout, allow_redirects=False, **kwargs)
        return no_5xx(resp)

    # Authentication ------------------------------------------------------------
    def partner_token_response(self, client_id, secret_key):
        return self.request("POST", "/oauth/partner/access-token",
                            auth=basic_auth(client_id, secret_key))

    def partner_tokens(self, cred):
        resp = self.partner_token_response(cred["client_id"], cred["secret_key"])
        assert resp.status_code == 200, f"partner token: {resp.status_code} {resp.text}"
        return resp.json()

    def refresh_response(self, refresh_token):
        return self.request("POST", "/oauth/partner/access-token/refresh",
                            data={"refresh_token": refresh_token})

    def user_token_response(self, partner_access_token, user_id, expires_in=None):
        body = {"user_id": user_id}
        if expires_in is not None:
            body["expires_in"] = expires_in
        return self.request("POST", "/open/partner/users/access-token",
                            token=partner_access_token, json_body=body)

    def user_token(self, partner_access_token, user_id=None):
        user_id = user_id or ("user_" + random_text(10))
        resp = self.user_token_response(partner_access_token, user_id)
        assert resp.status_code == 200, f"user token: {resp.status_code} {resp.text}"
        return resp.json()["access_token"]

    def new_user(self, cred, user_id=None):
        """A user token for a fresh (or given) user of partner `cred`."""
        return self.user_token(self.partner_tokens(cred)["access_token"], user_id)

    # Files ---------------------------------------------------------------------
    def generate(self, token, filesize, filetype="mp3"):
        return self.request("POST", "/open/partner/files/upload/generate-presigned-urls",
                            token=token, json_body={"filesize": filesize, "filetype": filetype})

    def start_upload(self, token, filesize, filetype="mp3"):
        resp = self.generate(token, filesize, filetype)
        assert resp.status_code == 200, f"generate: {resp.status_code} {resp.text}"
        return resp.json()

    def complete(self, token, file_id, upload_id, part_list, filetype="mp3", file_md5=None):
        body = {"file_id": file_id, "upload_id": upload_id, "part_list": part_list,
                "filetype": filetype}
        if file_md5 is not None:
            body["file_md5"] = file_md5
        return self.request("POST", "/open/partner/files/upload/complete-upload",
                            token=token, json_body=body)

    def parts(self, token, file_id, upload_id):
        return self.request("GET", "/open/partner/files/upload/parts", token=token,
                            params={"file_id": file_id, "upload_id": upload_id})

    def abort(self, token, file_id, upload_id):
        return self.request("POST", "/open/partner/files/upload/abort-upload", token=token,
                            json_body={"file_id": file_id, "upload_id": upload_id})

    def get_file(self, token, file_id):
        return self.request("GET", f"/open/partner/files/{file_id}", token=token)

    def delete_file(self, token, file_id):
        return self.request("DELETE", f"/open/partner/files/{file_id}", token=token)

    # Whole flows -----------------------------------------------------------------
    def upload_file(self, token, data, filetype="mp3", parallel=1, file_md5=None):
        """generate -> PUT every part -> complete; returns (plan, complete JSON)."""
        plan = self.start_upload(token, len(data), filetype)
        etags = put_all_parts(plan, data, parallel=parallel)
        resp = self.complete(token, plan["FileId"], plan["UploadId"], part_list(etags),
                             filetype, file_md5)
        assert resp.status_code == 200, f"complete: {resp.status_code} {resp.text}"
        return plan, resp.json()


def race(server, calls):
    """Runs each `call(api)` in its own thread with its own warmed-up connection, all
    released at once; returns their results in order. For atomicity checks."""
    clients = [Api(server) for _ in calls]
    for api in clients:
        api.http.get(server.base_url + "/healthz", timeout=TIMEOUT)
    start = threading.Barrier(len(clients), timeout=30)

    def run(pair):
        call, api = pair
        start.wait()
        return call(api)

    try:
        with ThreadPoolExecutor(max_workers=len(clients)) as pool:
            return list(pool.map(run, zip(calls, clients)))
    finally:
        for api in clients:
            api.close()


# Storage endpoint --------------------------------------------------------------
_storage_session = None


def storage_session():
    global _storage_session
    if _storage_session is None:
        _storage_session = http_session()
    return _storage_session


def put_part(url, body, headers=None, timeout=TIMEOUT):
    resp = storage_session().put(url, data=body, headers=headers or {}, timeout=timeout)
    return no_5xx(resp)


def put_all_parts(plan, data, parallel=1, only=None):
    """PUTs the parts of `data` named in `only` (default all); returns {PartNumber: ETag}."""
    bodies = split_parts(data, plan["ChunkSize"])
    urls = {p["PartNumber"]: p["PresignedUrl"] for p in plan["Parts"]}
    numbers = sorted(only if only is not None else urls)

    def one(n):
        resp = put_part(urls[n], bodies[n - 1])
        assert resp.status_code == 200, f"PUT part {n}: {resp.status_code} {resp.text}"
        etag = resp.headers.get("ETag")
        assert etag == quoted(md5_hex(bodies[n - 1])), f"part {n} ETag {etag!r}"
        return n, etag

    if parallel > 1:
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            return dict(pool.map(one, numbers))
    return dict(one(n) for n in numbers)


def part_list(etags):
    return [{"PartNumber": n, "ETag": etags[n]} for n in sorted(etags)]


def download(url, headers=None, method="GET"):
    resp = storage_session().request(method, url, headers=headers or {}, timeout=TIMEOUT)
    return no_5xx(resp)


def split_storage_url(url):
    """Path-style storage URL -> (bucket, key, {query param: value})."""
    u = urllib.parse.urlsplit(url)
    path = u.path.lstrip("/")
    bucket, _, key = path.partition("/")
    return (urllib.parse.unquote(bucket), urllib.parse.unquote(key),
            dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True)))


def s3_client(server, access_key=None, secret_key=None):
    import boto3
    from botocore.config import Config
    return boto3.session.Session().client(
        "s3",
        endpoint_url=server.storage_url,
        aws_access_key_id=access_key or server.access_key,
        aws_secret_access_key=secret_key or server.secret_key,
        region_name=STORAGE_REGION,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                      retries={"max_attempts": 1}, connect_timeout=10, read_timeout=TIMEOUT),
    )


# Assertions --------------------------------------------------------------------
def metric(server, name):
    """The value of the unlabelled series `name` in the server's /metrics."""
    with http_session() as http:
        text = http.get(server.base_url + "/metrics", timeout=TIMEOUT).text
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} is not in /metrics")


def wait_for(predicate, timeout, what, interval=0.02):
    """Polls `predicate` until it is true; fails after `timeout` seconds (and at most
    timeout / interval + 1 looks) saying `what`."""
    deadline = time.monotonic() + timeout
    for _ in range(int(timeout / interval) + 1):
        if predicate():
            return
        if time.monotonic() > deadline:
            break
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def presigned_url_expiry(url):
    """When a SigV4 presigned URL runs out: X-Amz-Date + X-Amz-Expires, in epoch seconds."""
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
    signed = calendar.timegm(time.strptime(query["X-Amz-Date"], "%Y%m%dT%H%M%SZ"))
    return signed + int(query["X-Amz-Expires"])


def wait_until_expired(url, margin=1.0):
    """Polls the clock until presigned `url` is past its expiry by `margin` seconds
    (the server and this process share the clock; the margin keeps off the boundary)."""
    expiry = presigned_url_expiry(url) + margin
    wait_for(lambda: time.time() >= expiry, timeout=max(0.0, expiry - time.time()) + 5,
             what=f"{url.split('?')[0]} to expire", interval=0.05)


def assert_api_error(resp, status, code):
    """An API error: right status, JSON {"error":{"code","message"},"request_id"}.

    `status` and `code` may be sets where the contract allows more than one."""
    codes = {code} if isinstance(code, str) else set(code)
    statuses = {status} if isinstance(status, int) else set(status)
    where = f"{resp.request.method} {resp.url}"
    assert resp.status_code in statuses, (
        f"{where}: expected {sorted(statuses)} {sorted(codes)}, got {resp.status_code}: "
        f"{resp.text[:500]}")
    ctype = resp.headers.get("Content-Type", "")
    assert ctype.startswith("application/json"), f"{where}: Content-Type {ctype!r}"
    try:
        body = resp.json()
    except ValueError:
        raise AssertionError(f"{where}: error body is not JSON: {resp.text[:500]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), f"{where}: {body!r}"
    got = body["error"].get("code")
    assert got in codes, f"{where}: expected code {sorted(codes)}, got {got!r}: {body!r}"
    msg = body["error"].get("message")
    assert isinstance(msg, str) and msg.strip(), f"{where}: empty error.message: {body!r}"
    rid = body.get("request_id")
    assert isinstance(rid, str) and rid, f"{where}: missing request_id: {body!r}"
    return body


def s3_error_code(body):
    """The <Code> of an S3 XML error body (raises if it is not one)."""
    root = ET.fromstring(body)
    tag = root.tag.split("}")[-1]
    assert tag == "Error", f"XML root is {root.tag!r}, not Error: {body[:300]!r}"
    code = None
    for child in root:
        if child.tag.split("}")[-1] == "Code":
            code = child.text
    assert code, f"no <Code> in {body[:300]!r}"
    return code


def assert_s3_error(resp, status, code):
    codes = {code} if isinstance(code, str) else set(code)
    where = f"{resp.request.method} {resp.url}"
    assert resp.status_code == status, (
        f"{where}: expected {status} {sorted(codes)}, got {resp.status_code}: {resp.text[:500]}")
    if resp.request.method == "HEAD":
        return None
    got = s3_error_code(resp.content)
    assert got in codes, f"{where}: expected S3 code {sorted(codes)}, got {got!r}: {resp.text[:300]}"
    return got


RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")


# Raw HTTP, for what `requests` cannot do (half-sent bodies, silent clients) -----
class RawHttp:
    """One raw TCP connection to a loopback URL's host."""

    def __init__(self, url, timeout=10):
        u = urllib.parse.urlsplit(url)
        assert u.hostname == "127.0.0.1", url
        self.host = u.netloc
        self.target = u.path + (("?" + u.query) if u.query else "")
        self.sock = socket.create_connection((u.hostname, u.port), timeout=timeout)
        self._pending = b""  # bytes read past the end of the last response (pipelining)

    def send_head(self, method, headers, target=None):
        lines = [f"{method} {target or self.target} HTTP/1.1", f"Host: {self.host}"]
        lines += [f"{k}: {v}" for k, v in headers.items()]
        self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())

    def send(self, data):
        self.sock.sendall(data)

    def readable_within(self, seconds):
        import select
        r, _, _ = select.select([self.sock], [], [], seconds)
        return bool(r)

    def read_response(self, timeout=15):
        """(status, {lower header: value}, body). Bounded by `timeout` seconds overall."""
        deadline = time.monotonic() + timeout
        buf, self._pending = self._pending, b""
        while b"\r\n\r\n" not in buf:
            chunk = self._recv(deadline)
            if not chunk:
                raise AssertionError(f"connection closed before a full response head: {buf!r}")
            buf += chunk
        head, _, rest = buf.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        body = rest
        if "content-length" in headers:
            need = int(headers["content-length"])
            while len(body) < need:
                chunk = self._recv(deadline)
                if not chunk:
                    break
                body += chunk
            body, self._pending = body[:need], body[need:]
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            while not body.endswith(b"0\r\n\r\n"):
                chunk = self._recv(deadline)
                if not chunk:
                    break
                body += chunk
            body = _dechunk(body)
        return status, headers, body

    def wait_closed(self, timeout):
        """Seconds until the peer closed the connection (any bytes sent first are
        returned too), or None if it stayed open for `timeout` seconds."""
        start = time.monotonic()
        deadline = start + timeout
        data = b""
        while time.monotonic() < deadline:
            try:
                chunk = self._recv(deadline)
            except socket.timeout:
                return None, data
            except (ConnectionResetError, BrokenPipeError):
                return time.monotonic() - start, data
            if not chunk:
                return time.monotonic() - start, data
            data += chunk
        return None, data

    def _recv(self, deadline):
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout("deadline passed")
        self.sock.settimeout(remaining)
        return self.sock.recv(65536)

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False


def _dechunk(body):
    out = b""
    while body:
        size_line, _, body = body.partition(b"\r\n")
        size = int(size_line.split(b";")[0] or b"0", 16)
        if size == 0:
            break
        out += body[:size]
        body = body[size + 2:]
    return out


# Requests from another loopback address (127.0.0.2 and up), so that per-address limits
# tell a stranger from the honest client on 127.0.0.1.
def request_from(source, port, method, path, headers=None, body=None):
    """(status, JSON body or None, headers) of one request sent from `source`."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=TIMEOUT,
                                      source_address=(source, 0))
    try:
        conn.request(method, path, body=body, headers=headers or {})
        resp = conn.getresponse()
        data = resp.read()
        try:
            parsed = json.loads(data) if data else None
        except ValueError:
            parsed = None
        return resp.status, parsed, dict(resp.getheaders())
    finally:
        conn.close()


def token_request_from(source, server, client_id, secret_key):
    return request_from(source, server.port, "POST",
                        server.base_path + "/oauth/partner/access-token",
                        {"Authorization": basic_auth(client_id, secret_key)})


class HealthzWatch:
    """Polls GET /healthz every `interval` seconds on a thread of its own while a `with`
    block runs (at most 10,000 times): the latency of each 200, and every other answer
    (a status, or the exception) in `bad`."""

    def __init__(self, server, interval=0.02):
        self.url = server.base_url + "/healthz"
        self.interval = interval
        self.latencies = []
        self.bad = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @property
    def polls(self):
        return len(self.latencies) + len(self.bad)

    def median_ms(self):
        return statistics.median(self.latencies) * 1000

    def _run(self):
        with http_session() as http:
            while not self._stop.is_set() and self.polls < 10_000:
                started = time.monotonic()
                try:
                    status = http.get(self.url, timeout=5).status_code
                except requests.RequestException as e:
                    status = repr(e)
                if status == 200:
                    self.latencies.append(time.monotonic() - started)
                else:
                    self.bad.append(status)
                self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join(timeout=30)
        return False


class ServerTestCase(unittest.TestCase):
    """One server and one partner for the whole class; `server_args` adds options."""

    server_args = ()
    server_kwargs = {}

    @classmethod
    def setUpClass(cls):
        cls.server = Server(*cls.server_args, **cls.server_kwargs)
        cls.server.start()
        cls.api = Api(cls.server)
        cls.partner = create_partner(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.stop()

    def user(self, user_id=None):
        return self.api.new_user(self.partner, user_id)


def main():
    """unittest.main, then the server logs when something failed, then temp dirs go."""
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    ok = prog.result.wasSuccessful()
    if openapi_check.checked:
        sys.stderr.write(f"{sum(openapi_check.checked.values())} answers checked against "
                         f"docs/openapi.yaml ({len(openapi_check.checked)} documented "
                         "responses seen)\n")
    if openapi_check.drifts:
        # Also those raised where a test swallowed them (a polling thread).
        sys.stderr.write(f"\n{len(openapi_check.drifts)} answer(s) drifted from "
                         "docs/openapi.yaml:\n" + "\n".join(openapi_check.drifts) + "\n")
        ok = False
    if not ok:
        for s in _servers:
            sys.stderr.write("\n" + s.log_tail() + "\n")
    cleanup_servers()
    storage_session().close()
    sys.exit(0 if ok else 1)


def cleanup_servers():
    """Stops what still runs of the servers this process started and removes their
    temp dirs, logs included."""
    for s in _servers:
        s.cleanup()
