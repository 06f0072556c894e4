"""A throwaway PostgreSQL cluster on loopback, for tests.

    with PostgresCluster(workdir) as pg:
        pg.url   # postgresql://audiodrop:PASSWORD@127.0.0.1:PORT/audiodrop

The cluster lives in `workdir` (data, unix socket, log), listens only on 127.0.0.1
and authenticates TCP clients with scram-sha-256 and a random password, so clients
exercise the password path. fsync is off: the data is thrown away.

PostgreSQL refuses to run as root; under root its binaries run as the `postgres`
system user, which then owns `workdir`; parents it cannot traverse (a mkdtemp
directory is 0700) get the others' search bit, nothing more.

CLI:
    postgres_cluster.py run [--timeout SECONDS] -- CMD ARGS...
        starts a cluster in a fresh temp dir, runs CMD with AUDIODROP_TEST_DATABASE_URL
        (and AUDIODROP_TEST_POSTGRES_RESTART, a shell command restarting the cluster)
        set, stops the cluster, removes the dir and exits with CMD's code.
    postgres_cluster.py restart WORKDIR
        restarts the cluster in WORKDIR (what AUDIODROP_TEST_POSTGRES_RESTART runs).
"""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import urllib.parse
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "integration"))
from harness import hold_port  # noqa: E402

PG_BIN = Path("/usr/lib/postgresql/15/bin")
USER = "audiodrop"
DATABASE = "audiodrop"
PG_CTL_WAIT_SECONDS = 30
COMMAND_TIMEOUT_SECONDS = 60  # any one initdb/pg_ctl/createdb call
CHILD_STOP_SECONDS = 10  # a test command asked to stop gets this long before SIGKILL
BIND_ATTEMPTS = 3  # starts on another port after PostgreSQL could not bind the last one


def as_postgres_user(argv: list[str]) -> list[str]:
    """The command to run a server binary: as `postgres` when we are root."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *argv]
    return argv


class PostgresCluster:
    def __init__(self, workdir: str | os.PathLike, port: int | None = None):
        self.workdir = Path(workdir).resolve()
        self.port = port
        self._port_holder = None
        # Characters that must be percent-encoded in a URL, so encoding is exercised too.
        self.password = "pw@/" + secrets.token_hex(12)

    @property
    def data_dir(self) -> Path:
        return self.workdir / "data"

    @property
    def log_file(self) -> Path:
        return self.workdir / "postgres.log"

    @property
    def url(self) -> str:
        password = urllib.parse.quote(self.password, safe="")
        return f"postgresql://{USER}:{password}@127.0.0.1:{self.port}/{DATABASE}"

    def query(self, sql: str) -> str:
        """The first column of the first row `sql` returns, as text ("" for none)."""
        done = subprocess.run(["psql", self.url, "-X", "-t", "-A", "-c", sql],
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT_SECONDS,
                              check=True)
        return done.stdout.split("\n", 1)[0].strip()

    def start(self) -> None:
        self.workdir.mkdir(parents=True, exist_ok=True)
        socket_dir = self.workdir / "socket"
        socket_dir.mkdir(exist_ok=True)
        password_file = self.workdir / "password"
        password_file.write_text(self.password + "\n")
        if os.geteuid() == 0:
            for parent in self.workdir.parents:
                mode = parent.stat().st_mode
                if not mode & stat.S_IXOTH:
                    parent.chmod(stat.S_IMODE(mode) | stat.S_IXOTH)
            shutil.chown(self.workdir, "postgres", "postgres")
            for path in (socket_dir, password_file):
                shutil.chown(path, "postgres", "postgres")
        self._run(as_postgres_user([
            str(PG_BIN / "initdb"), "-D", str(self.data_dir), "-U", USER,
            f"--pwfile={password_file}", "--auth=scram-sha-256", "-E", "UTF8",
            "--locale=C", "--no-sync",
        ]))
        password_file.unlink()
        with open(self.data_dir / "postgresql.conf", "a") as conf:
            conf.write(
                "\n# throwaway test cluster\n"
                "listen_addresses = '127.0.0.1'\n"
                f"include = '{self._port_file}'\n"
                f"unix_socket_directories = '{socket_dir}'\n"
                "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
                "max_connections = 300\n"
            )
        self._start_on_a_port()
        env = dict(os.environ, PGPASSWORD=self.password)
        self._run([str(PG_BIN / "createdb"), "-h", "127.0.0.1", "-p", str(self.port),
                   "-U", USER, DATABASE], env=env)

    @property
    def _port_file(self) -> Path:
        return self.workdir / "port.conf"

    def _start_on_a_port(self) -> None:
        """pg_ctl start on `port`, or else on a free one. PostgreSQL cannot bind port 0
        and say which port it got (its port setting starts at 1), so the port is picked
        and held here (harness.hold_port()) for the cluster's life; PostgreSQL sets
        SO_REUSEADDR and binds beside the holder. Should the bind fail all the same,
        the start is retried on another port, BIND_ATTEMPTS times at most."""
        chosen = self.port
        for attempt in range(1, BIND_ATTEMPTS + 1):
            if chosen is None:
                self._release_port()
                self._port_holder, self.port = hold_port()
            self._port_file.write_text(f"port = {self.port}\n")
            log_size = self.log_file.stat().st_size if self.log_file.exists() else 0
            try:
                self._pg_ctl("start")
                return
            except RuntimeError:
                if chosen is not None or attempt == BIND_ATTEMPTS or \
                        "could not bind" not in self._log_since(log_size):
                    raise

    def _log_since(self, offset: int) -> str:
        with open(self.log_file, "rb") as f:
            f.seek(offset)
            return f.read().decode(errors="replace")

    def _release_port(self) -> None:
        if self._port_holder is not None:
            self._port_holder.close()
            self._port_holder = None

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def stop(self) -> None:
        """Stops the server if one runs in data_dir, even one a failed start left."""
        if (self.data_dir / "postmaster.pid").exists():
            self._pg_ctl("stop", "-m", "immediate")
        self._release_port()

    def __enter__(self) -> "PostgresCluster":
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _pg_ctl(self, *args: str) -> None:
        # -l keeps the server's output out of our pipes (pg_ctl would hand them on).
        self._run(as_postgres_user([
            str(PG_BIN / "pg_ctl"), *args, "-D", str(self.data_dir), "-l", str(self.log_file),
            "-w", "-t", str(PG_CTL_WAIT_SECONDS),
        ]))

    def _run(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        done = subprocess.run(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                              text=True, timeout=COMMAND_TIMEOUT_SECONDS, cwd=self.workdir)
        if done.returncode != 0:
            log = self.log_file.read_text(errors="replace")[-4000:] if self.log_file.exists() else ""
            raise RuntimeError(f"{shlex.join(argv)} failed ({done.returncode}):\n{done.stdout}"
                               f"\n--- postgres.log ---\n{log}")


class Interrupted(Exception):
    def __init__(self, signum: int):
        super().__init__(f"signal {signum}")
        self.signum = signum


def stop_child(child: subprocess.Popen | None) -> None:
    if child is None or child.poll() is not None:
        return
    child.terminate()
    try:
        child.wait(timeout=CHILD_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        child.kill()
        child.wait()


def run_with_cluster(command: list[str], timeout: float | None) -> int:
    def on_signal(signum, _frame):
        raise Interrupted(signum)

    def ignore_signals():
        # Cleanup must not be cut short by a second signal.
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, signal.SIG_IGN)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="audiodrop-pg-"))
    cluster = PostgresCluster(workdir)
    child: subprocess.Popen | None = None
    try:
        try:
            cluster.start()
            env = dict(os.environ)
            env["AUDIODROP_TEST_DATABASE_URL"] = cluster.url
            env["AUDIODROP_TEST_POSTGRES_RESTART"] = shlex.join(
                [sys.executable, str(Path(__file__).resolve()), "restart", str(workdir)])
            child = subprocess.Popen(command, env=env)
            try:
                return child.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                print(f"postgres_cluster: {shlex.join(command)} ran past {timeout} s; stopping it",
                      file=sys.stderr)
                return 124
        finally:
            ignore_signals()
            stop_child(child)
            cluster.stop()
    except Interrupted as e:
        return 128 + e.signum
    finally:
        ignore_signals()
        shutil.rmtree(workdir, ignore_errors=True)


def serve() -> int:
    """Starts a cluster, prints its URL as a shell export, runs until SIGINT or SIGTERM."""
    def on_signal(signum, _frame):
        raise Interrupted(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    workdir = Path(tempfile.mkdtemp(prefix="audiodrop-pg-"))
    try:
        with PostgresCluster(workdir) as cluster:
            print(f"export AUDIODROP_TEST_DATABASE_URL={shlex.quote(cluster.url)}", flush=True)
            print(f"# PostgreSQL in {workdir}; Ctrl-C stops it.", file=sys.stderr, flush=True)
            signal.pause()
    except Interrupted:
        return 0
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


def restart_cluster(workdir: str) -> None:
    cluster = PostgresCluster(workdir)
    cluster.restart()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="action", required=True)
    run = sub.add_parser("run", help="run a command against a fresh cluster")
    run.add_argument("--timeout", type=float, default=None,
                     help="stop the command after this many seconds (exit 124)")
    run.add_argument("command", nargs=argparse.REMAINDER)
    sub.add_parser("serve", help="start a cluster, print its URL, run until Ctrl-C")
    restart = sub.add_parser("restart", help="restart the cluster in WORKDIR")
    restart.add_argument("workdir")
    args = parser.parse_args()

    if args.action == "serve":
        return serve()
    if args.action == "restart":
        restart_cluster(args.workdir)
        return 0
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("run needs a command after --")
    return run_with_cluster(command, args.timeout)


if __name__ == "__main__":
    sys.exit(main())
