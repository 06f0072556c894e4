#!/usr/bin/python3
"""A throwaway single-node Ceph RADOS Gateway: a real S3 server for the scale-out tests.

One monitor, one in-memory OSD and one radosgw, all from Debian's Ceph 16.2 packages,
listening on free 127.0.0.1 ports (radosgw's is the kernel's pick for port 0; see
_start_mon for the mon's). Everything they write (config, mon and OSD data, logs, admin
sockets, crash dumps) stays inside the work dir, so two instances can run side by side
and nothing lands in /etc/ceph, /var/lib/ceph or /var/log/ceph. No systemd, no mgr.
Starting takes a few seconds; the data is gone on stop().

Each daemon runs in its own process group, which stop() kills with SIGKILL (the data
is throwaway, so there is nothing to shut down gracefully). The daemons also get
SIGKILL from the kernel when the thread that started them ends (PR_SET_PDEATHSIG), so
a killed test process leaves nothing behind; call start() from a thread that outlives
the cluster (the main thread, as unittest does).

Library use:

    with CephRgw(workdir) as rgw:          # start() on enter, stop() on exit
        rgw.make_bucket("b")               # then any S3 client: rgw.endpoint,
                                           # rgw.access_key, rgw.secret_key, rgw.region
Command line:

    ceph_rgw.py run -- CMD ARGS...   start, create bucket audiodrop-test, run CMD with
                                     AUDIODROP_TEST_S3_* set, stop; exit with CMD's code
    ceph_rgw.py serve                start, print `export AUDIODROP_TEST_S3_*=...`,
                                     wait for Ctrl-C
"""

import argparse
import base64
import ctypes
import email.utils
import hashlib
import hmac
import http.client
import os
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
from harness import hold_port, listening_ports  # noqa: E402

START_TIMEOUT = 60  # seconds for start() as a whole
STOP_TIMEOUT = 10  # seconds to reap each daemon after SIGKILL
HTTP_TIMEOUT = 10  # seconds for one request to RGW
POLL_INTERVAL = 0.1  # seconds between readiness probes
LOG_TAIL_LINES = 25  # per log file, in start()'s error message
MON_BIND_ATTEMPTS = 3  # mon set-ups on another port after it could not bind the last one

MON_ID = "a"
RGW_NAME = "client.rgw.test"
RGW_USER = "audiodrop-test"
TEST_BUCKET = "audiodrop-test"

# RGW accepts any region in a SigV4 credential scope. "us-east-1" is the one for which
# S3 clients send CreateBucket without a LocationConstraint; any other name must equal
# the zonegroup's ("default") or CreateBucket fails with InvalidLocationConstraint.
REGION = "us-east-1"

# The OSD's capacity. It keeps objects in RAM but uses only what is stored; the room is
# for the tests' uploads, as deleted objects hold their space until RGW's garbage
# collection runs two hours later.
MEMSTORE_BYTES = 4 << 30

# Not configurable in ceph.conf: the characters would start a comment or a
# metavariable, or end the value.
CONF_UNSAFE_CHARS = "#;$\n"

CONF_TEMPLATE = """\
[global]
fsid = {fsid}
# Our own mon on a port picked free at start (3300 and 6789 may be taken by
# another instance); msgr v2 only, which every 16.2 client and daemon speaks.
mon host = v2:127.0.0.1:{mon_port}
# Without these the OSD binds its ports on the host's address or on all of them.
public addr = 127.0.0.1
cluster addr = 127.0.0.1
# A throwaway cluster on loopback: no cephx keys to create and hand around.
auth cluster required = none
auth service required = none
auth client required = none
# Everything in the work dir. An empty keyring stops clients searching /etc/ceph;
# the mon's cluster log and crash dumps default to /var/log/ceph and /var/lib/ceph.
keyring = {workdir}/keyring
run dir = {workdir}/run
log file = {workdir}/log/$name.log
mon cluster log file = {workdir}/log/cluster.log
crash dir = {workdir}/crash
# One OSD: one replica per object is all there can be, and few PGs per pool
# (rgw creates 7 pools: 56 PGs, under the default mon_max_pg_per_osd of 250).
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
# The default (1 s) delays every map change: rgw creating its pools made start()
# take ~13 s instead of ~3 s, and the first CreateBucket ~2.5 s.
paxos propose interval = 0.05

[mon]
mon data = {workdir}/mon
# A mon that cannot bind its port exits at once (by default it tries 3 times, 5 s
# apart), so that start() moves it to another port.
ms bind retry count = 1

[osd]
osd data = {workdir}/osd
# Objects in RAM: nothing to prepare on disk, and the fastest start. The device
# size only sets when the OSD counts as full (95 %); RAM is used as data arrives.
osd objectstore = memstore
memstore device bytes = {memstore_bytes}

[{rgw_name}]
# Port 0: the kernel picks it, and start() reads it from /proc.
rgw frontends = beast endpoint=127.0.0.1:{rgw_port}
# radosgw asks the mon for a "secure" session by default, which auth none cannot
# give: it would hang at "get_initial_auth_request returned -13".
ms mon client mode = secure crc
"""

# The command-line modes stop the daemons and exit on these.
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)

# Set by a caller of Ceph tools, they would point them at another cluster.
CEPH_ENV_VARS = ("CEPH_ARGS", "CEPH_CONF", "CEPH_KEYRING")

PR_SET_PDEATHSIG = 1
_libc = ctypes.CDLL(None, use_errno=True)


def _die_with_parent():
    """preexec_fn: the child gets SIGKILL when the thread that started it ends."""
    if _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL) != 0:
        raise OSError(ctypes.get_errno(), "prctl(PR_SET_PDEATHSIG) failed")


def _answers_http(port):
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=1)
    try:
        connection.request("GET", "/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


class CephRgw:
    """One mon, one memstore OSD and one radosgw, serving S3 at `endpoint`.

    Single use: one start() (and any number of stop()s) per instance and work dir.
    """

    def __init__(self, workdir: str, port: int | None = None):
        self.workdir = os.path.abspath(workdir)
        if any(c in self.workdir for c in CONF_UNSAFE_CHARS):
            raise ValueError(f"work dir path must not contain any of {CONF_UNSAFE_CHARS!r}")
        self.port = port  # None: the kernel's pick, known once start() has seen RGW listen
        self.region = REGION
        # The shapes AWS uses (20 upper-case characters, 40 characters); fresh per run.
        self.access_key = "AK" + secrets.token_hex(9).upper()
        self.secret_key = secrets.token_urlsafe(30)
        self.fsid = str(uuid.uuid4())
        self.mon_port = None  # picked when start() writes the config
        self._mon_port_holder = None
        self.conf_path = os.path.join(self.workdir, "ceph.conf")
        self.log_dir = os.path.join(self.workdir, "log")
        self._ceph_env = {k: v for k, v in os.environ.items() if k not in CEPH_ENV_VARS}
        self._daemons = []  # (name, Popen), in start order
        self._daemon_outputs = []  # open files holding the daemons' stdout and stderr

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def start(self) -> None:
        """Serves S3 within START_TIMEOUT or raises RuntimeError with the logs' tails."""
        if os.path.exists(self.conf_path):
            raise RuntimeError(f"{self.workdir} already holds a cluster; start in an empty dir")
        deadline = time.monotonic() + START_TIMEOUT
        try:
            self._write_config()
            self._start_mon(deadline)
            self._start_osd(deadline)
            self._start_rgw(deadline)
            self._create_user(deadline)
        except (OSError, RuntimeError, subprocess.SubprocessError) as error:
            logs = self._log_tails()
            self.stop()
            message = f"Ceph RGW in {self.workdir} did not start: {error}\n{logs}"
            raise RuntimeError(message) from error
        except BaseException:  # e.g. KeyboardInterrupt: no daemon may outlive a failed start
            self.stop()
            raise

    def stop(self) -> None:
        """Kills every daemon started here and reaps it; safe to call again."""
        for _, proc in self._daemons:
            # Only an unreaped child: its pid (and so its group id) cannot be reused yet.
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
        stuck = []
        for name, proc in self._daemons:
            try:
                proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                stuck.append((name, proc))
        self._daemons = stuck
        if stuck:
            raise RuntimeError(f"still running after SIGKILL: {[(n, p.pid) for n, p in stuck]}")
        for output in self._daemon_outputs:
            output.close()
        self._daemon_outputs = []
        self._release_mon_port()

    def make_bucket(self, name: str) -> None:
        """Creates bucket `name` as the test user; raises RuntimeError unless RGW says 200."""
        # AWS signature version 2 (RGW still accepts it): a signed PUT with the
        # standard library alone, where SigV4 would need a page of code.
        date = email.utils.formatdate(usegmt=True)
        string_to_sign = f"PUT\n\n\n{date}\n/{name}"
        digest = hmac.new(self.secret_key.encode(), string_to_sign.encode(), hashlib.sha1).digest()
        headers = {
            "Date": date,
            "Content-Length": "0",
            "Authorization": f"AWS {self.access_key}:{base64.b64encode(digest).decode()}",
        }
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=HTTP_TIMEOUT)
        try:
            connection.request("PUT", f"/{name}", headers=headers)
            response = connection.getresponse()
            body = response.read().decode(errors="replace")
        finally:
            connection.close()
        if response.status != 200:
            raise RuntimeError(f"PUT /{name}: HTTP {response.status} {body}")

    def _write_config(self):
        for sub in ("mon", "osd", "log", "run", "crash"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        open(os.path.join(self.workdir, "keyring"), "w").close()
        conf = CONF_TEMPLATE.format(
            fsid=self.fsid,
            mon_port=self.mon_port,
            rgw_port=self.port or 0,
            workdir=self.workdir,
            rgw_name=RGW_NAME,
            memstore_bytes=MEMSTORE_BYTES,
        )
        with open(self.conf_path, "w") as f:
            f.write(conf)

    def _start_mon(self, deadline):
        """The mon's address is in the monmap and the config before it starts, so it
        cannot bind port 0: its port is picked and held here (harness.hold_port()) for
        the cluster's life, and ceph-mon, which sets SO_REUSEADDR, binds beside the
        holder. Should the bind fail all the same, the mon is set up again on another
        port, MON_BIND_ATTEMPTS times at most."""
        for attempt in range(1, MON_BIND_ATTEMPTS + 1):
            self._release_mon_port()
            self._mon_port_holder, self.mon_port = hold_port()
            self._write_config()
            monmap = os.path.join(self.workdir, "monmap")
            mon_address = f"[v2:127.0.0.1:{self.mon_port}]"
            self._tool(
                deadline, "monmaptool", "--create", "--clobber", "--fsid", self.fsid,
                "--addv", MON_ID, mon_address, monmap,
            )
            self._tool(deadline, "ceph-mon", "--mkfs", "-i", MON_ID, "--monmap", monmap)
            mon = self._spawn(f"mon.{MON_ID}", "ceph-mon", "-f", "-i", MON_ID)
            # Ceph clients retry an absent mon forever; a mon that failed to bind must
            # fail start() now, not at the deadline.
            try:
                self._wait_until(deadline, "mon listening",
                                 lambda: self.mon_port in listening_ports(mon.pid))
                return
            except RuntimeError:
                if attempt == MON_BIND_ATTEMPTS or not self._mon_could_not_bind():
                    raise
            # Another port needs another monmap and a mon store made from it.
            self._daemons.remove((f"mon.{MON_ID}", mon))
            mon.wait(timeout=STOP_TIMEOUT)
            shutil.rmtree(os.path.join(self.workdir, "mon"))

    def _mon_could_not_bind(self):
        for name in (f"mon.{MON_ID}.out", f"mon.{MON_ID}.log"):
            try:
                with open(os.path.join(self.log_dir, name), errors="replace") as f:
                    if "unable to bind" in f.read():
                        return True
            except OSError:
                pass
        return False

    def _release_mon_port(self):
        if self._mon_port_holder is not None:
            self._mon_port_holder.close()
            self._mon_port_holder = None

    def _start_osd(self, deadline):
        osd_uuid = str(uuid.uuid4())
        osd_id = self._tool(deadline, "ceph", "osd", "new", osd_uuid).strip()
        self._tool(deadline, "ceph-osd", "--mkfs", "-i", osd_id, "--osd-uuid", osd_uuid)
        self._spawn(f"osd.{osd_id}", "ceph-osd", "-f", "-i", osd_id)

    def _start_rgw(self, deadline):
        rgw = self._spawn(RGW_NAME, "radosgw", "-f", "-n", RGW_NAME)
        # radosgw opens its port only once its pools exist (so the OSD is up and
        # serving) and its zone is set up. It logs the port it was given, not the one
        # the kernel picked for port 0: the kernel says which port it listens on.
        if self.port is None:
            self._wait_until(deadline, "S3 port", lambda: listening_ports(rgw.pid))
            ports = listening_ports(rgw.pid)
            if len(ports) != 1:
                raise RuntimeError(f"radosgw listens on {sorted(ports)}, expected one port")
            self.port = ports.pop()
        self._wait_until(deadline, "S3 answer", lambda: _answers_http(self.port))

    def _create_user(self, deadline):
        self._tool(
            deadline, "radosgw-admin", "user", "create", "--uid", RGW_USER,
            "--display-name", RGW_USER, "--access-key", self.access_key,
            "--secret-key", self.secret_key,
        )

    def _wait_until(self, deadline, what, is_ready):
        """Polls is_ready until the deadline; fails fast if a daemon has exited."""
        while time.monotonic() < deadline:
            self._check_daemons_alive()
            if is_ready():
                return
            time.sleep(POLL_INTERVAL)
        raise RuntimeError(f"no {what} within {START_TIMEOUT} s")

    def _spawn(self, name, *argv):
        output = open(os.path.join(self.log_dir, f"{name}.out"), "wb")
        self._daemon_outputs.append(output)
        proc = subprocess.Popen(
            [argv[0], "-c", self.conf_path, *argv[1:]],
            stdin=subprocess.DEVNULL,
            stdout=output,
            stderr=subprocess.STDOUT,
            env=self._ceph_env,
            start_new_session=True,  # its own process group, for stop() to kill
            preexec_fn=_die_with_parent,
        )
        self._daemons.append((name, proc))
        return proc

    def _tool(self, deadline, *argv):
        """Runs a Ceph command-line tool on this cluster; returns its stdout."""
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise RuntimeError(f"out of time before {argv[0]}")
        result = subprocess.run(
            [argv[0], "-c", self.conf_path, *argv[1:]],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            env=self._ceph_env,
            timeout=remaining,
            preexec_fn=_die_with_parent,
        )
        if result.returncode != 0:
            error = result.stderr.strip()[-2000:]
            raise RuntimeError(f"{shlex.join(argv)} exited {result.returncode}: {error}")
        return result.stdout

    def _check_daemons_alive(self):
        for name, proc in self._daemons:
            if proc.poll() is not None:
                raise RuntimeError(f"{name} exited with {proc.returncode}")

    def _log_tails(self):
        tails = []
        for log_name in sorted(os.listdir(self.log_dir)) if os.path.isdir(self.log_dir) else []:
            with open(os.path.join(self.log_dir, log_name), errors="replace") as f:
                lines = f.readlines()[-LOG_TAIL_LINES:]
            tails.append(f"--- {log_name} (last {len(lines)} lines)\n" + "".join(lines))
        return "\n".join(tails)


def s3_environment(rgw, bucket):
    """The AUDIODROP_TEST_S3_* variables the scale-out tests read."""
    return {
        "AUDIODROP_TEST_S3_ENDPOINT": rgw.endpoint,
        "AUDIODROP_TEST_S3_ACCESS_KEY": rgw.access_key,
        "AUDIODROP_TEST_S3_SECRET_KEY": rgw.secret_key,
        "AUDIODROP_TEST_S3_REGION": rgw.region,
        "AUDIODROP_TEST_S3_BUCKET": bucket,
    }


class Stopped(Exception):
    """Raised in the main thread by SIGINT or SIGTERM, so `finally` blocks stop the daemons."""

    def __init__(self, signum):
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _raise_stopped(signum, _frame):
    # Later signals must not interrupt the cleanup this one starts.
    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, signal.SIG_IGN)
    raise Stopped(signum)


def _stop_command(command):
    """Passes a stop request on to the command and reaps it, bounded."""
    if command.poll() is None:
        command.terminate()
        try:
            command.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            command.kill()
            command.wait(timeout=STOP_TIMEOUT)


def run_command(argv):
    """Runs argv against a fresh RGW with bucket TEST_BUCKET; returns its exit code."""
    workdir = tempfile.mkdtemp(prefix="audiodrop-ceph-")
    command = None
    try:
        with CephRgw(workdir) as rgw:
            rgw.make_bucket(TEST_BUCKET)
            env = {**os.environ, **s3_environment(rgw, TEST_BUCKET)}
            command = subprocess.Popen(argv, env=env)
            try:
                return command.wait()
            finally:
                _stop_command(command)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def serve():
    """Starts RGW, prints its variables as shell exports, runs until SIGINT or SIGTERM."""
    workdir = tempfile.mkdtemp(prefix="audiodrop-ceph-")
    try:
        with CephRgw(workdir) as rgw:
            rgw.make_bucket(TEST_BUCKET)
            for key, value in s3_environment(rgw, TEST_BUCKET).items():
                print(f"export {key}={shlex.quote(value)}")
            sys.stdout.flush()
            print(f"# Ceph RGW in {workdir}; Ctrl-C stops it.", file=sys.stderr, flush=True)
            signal.pause()  # until a stop signal raises Stopped
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    subcommands = parser.add_subparsers(dest="subcommand", required=True)
    run_parser = subcommands.add_parser("run", help="run a command against a fresh RGW")
    run_parser.add_argument("command", nargs=argparse.REMAINDER, help="-- CMD ARGS...")
    subcommands.add_parser("serve", help="start RGW, print its variables, wait for Ctrl-C")
    args = parser.parse_args()
    if args.subcommand == "run":
        command = args.command[1:] if args.command[:1] == ["--"] else args.command
        if not command:
            parser.error("run needs a command: run -- CMD ARGS...")

    for stop_signal in STOP_SIGNALS:
        signal.signal(stop_signal, _raise_stopped)
    try:
        return run_command(command) if args.subcommand == "run" else serve()
    except Stopped as stopped:
        return 128 + stopped.signum
    except (RuntimeError, OSError) as error:
        print(f"ceph_rgw.py: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
