"""The Debian package, end to end.

scripts/package.sh packs this build's own binaries (SKIP_BUILD=1: nothing compiles
twice) into audiodrop_<version>_<arch>.deb. The test checks its metadata, its files
and their modes, the conffile, the maintainer scripts, stripped binaries and the man
pages; lintian when installed; then, as root, installs it with dpkg -i, runs the
installed server exactly as the installed unit's ExecStart says (as its User=, under
no-new-privs and, where the kernel has it, PR_SET_MDWE as MemoryDenyWriteExecute=yes
asks) with the listeners moved to ports the kernel picks, creates a partner the way
README.md says, uploads with the installed CLI, reads the man pages with man, verifies
the unit with systemd-analyze, and purges the package, checking nothing is left.

Installing needs root (CI runs as root): otherwise that part is skipped and the test
exits 77, which CTest shows as skipped. It is skipped as well when an audiodrop package
or /var/lib/audiodrop already exists: never touch a real installation.

$AUDIODROP_BUILD_DIR is the build dir to pack (CTest sets it; default build/).
"""

import fcntl
import hashlib
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("AUDIODROP_BUILD_DIR") or os.path.join(REPO, "build"))
COMMAND_TIMEOUT = 120  # seconds for any one command (dpkg, cpack, lintian, the CLI)
CONFIG = "/etc/audiodrop/audiodrop.toml"
UNIT = "/lib/systemd/system/audiodrop.service"
DATA_DIR = "/var/lib/audiodrop"
ENABLED_LINK = "/etc/systemd/system/multi-user.target.wants/audiodrop.service"
BINARIES = ["/usr/bin/audiodrop-server", "/usr/bin/audiodrop"]
MAN_PAGES = ["/usr/share/man/man1/audiodrop-server.1.gz", "/usr/share/man/man1/audiodrop.1.gz"]
DOCS = ["/usr/share/doc/audiodrop/README.md", "/usr/share/doc/audiodrop/API.md",
        "/usr/share/doc/audiodrop/copyright"]
PACKAGED_FILES = BINARIES + MAN_PAGES + DOCS + [CONFIG, UNIT]
# Lintian errors accepted on purpose, each with its reason (warnings are only shown;
# one is non-standard-file-perm: the config ships 0640 as it may hold secrets).
ACCEPTED_LINTIAN_ERRORS = {
    # No Debian changelog: the version comes from CMakeLists.txt, the changes from git.
    "no-changelog",
}

# Runs argv[1:] after asking the kernel to refuse writable+executable memory to this
# process and what it execs (PR_SET_MDWE, Linux 6.3+), as MemoryDenyWriteExecute=yes
# does; prints a note if the kernel cannot.
MDWE_EXEC = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("note: this kernel has no PR_SET_MDWE; running without it", file=sys.stderr)
os.execv(sys.argv[1], sys.argv[1:])
"""

# Set when the install test is skipped, to exit 77 (CTest: skipped).
_install_skipped = []


def run(cmd, timeout=COMMAND_TIMEOUT, check=True, env=None, **kwargs):
    """Runs `cmd`, output captured as text; with `check`, a failure shows its output."""
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL, env=env, **kwargs)
    if check and proc.returncode != 0:
        raise AssertionError(f"{shlex.join(cmd)} exited {proc.returncode}\n"
                             f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return proc


def project_version():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        match = re.search(r"project\(\s*audiodrop\s+VERSION\s+([0-9.]+)", f.read())
    assert match, "no project(audiodrop VERSION x.y.z) in CMakeLists.txt"
    return match.group(1)


def dpkg_status(package):
    """dpkg's status of `package`, e.g. "install ok installed"; "" when dpkg knows none."""
    proc = run(["dpkg-query", "-W", "-f=${Status}", package], check=False)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def dpkg(*args):
    """dpkg ARGS, waiting (bounded) while another dpkg or apt holds the lock."""
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    deadline = time.monotonic() + 180
    for _ in range(90):
        proc = run(["dpkg", *args], check=False, env=env)
        if proc.returncode == 0:
            return proc
        if "lock" not in proc.stderr or time.monotonic() > deadline:
            break
        time.sleep(2)
    raise AssertionError(f"dpkg {' '.join(args)} exited {proc.returncode}\n"
                         f"{proc.stdout}\n{proc.stderr}")


def unit_settings(text):
    """{key: [values]} of a systemd unit's text, sections ignored."""
    settings = {}
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";", "[")):
            continue
        key, _, value = line.partition("=")
        settings.setdefault(key.strip(), []).append(value.strip())
    return settings


class SystemLock:
    """An exclusive flock so that two runs of this test on one machine (two build dirs)
    never install and purge the package under each other; bounded wait."""

    def __init__(self, path="/tmp/audiodrop-package-test.lock", timeout=300):
        self.file = open(path, "a")
        deadline = time.monotonic() + timeout
        while True:
            try:
                fcntl.flock(self.file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    self.file.close()
                    raise AssertionError(f"{path} still locked after {timeout} s")
                time.sleep(1)

    def release(self):
        fcntl.flock(self.file, fcntl.LOCK_UN)
        self.file.close()


class InstalledServer:
    """The installed audiodrop-server started the way the unit starts it, with the
    listeners moved to ports the kernel picks (a flag beats the config file)."""

    def __init__(self, exec_start, user, log_path):
        self.log_path = log_path
        command = shlex.split(exec_start) + ["--listen", "127.0.0.1:0",
                                             "--storage-listen", "127.0.0.1:0"]
        # As the unit's user, with its supplementary groups (the config is group-readable
        # only), no new privileges, and MDWE.
        self.command = ["setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
                        "--no-new-privs", "--", "/usr/bin/python3", "-c", MDWE_EXEC, *command]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd="/")
        self.ready = self._wait_ready()
        self.base_url = "http://127.0.0.1:%d" % harness.port_of(self.ready["api"])

    def log(self):
        try:
            with open(self.log_path, errors="replace") as f:
                return f.read()[-8000:]
        except OSError:
            return "(no log)"

    def _wait_ready(self, timeout=harness.START_TIMEOUT, interval=0.1):
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / interval) + 1):
            for line in self.log().splitlines():
                fields = harness.log_fields(line)
                if fields.get("msg") == "ready" and "api" in fields:
                    return fields
            if self.proc.poll() is not None:
                raise AssertionError(f"installed server exited {self.proc.returncode} while "
                                     f"starting: {shlex.join(self.command)}\n{self.log()}")
            if time.monotonic() > deadline:
                break
            time.sleep(interval)
        raise AssertionError(f"no ready line within {timeout} s\n{self.log()}")

    def wait_readyz(self, tries=100, interval=0.1):
        with harness.http_session() as http:
            for _ in range(tries):
                try:
                    if http.get(self.base_url + "/readyz", timeout=2).status_code == 200:
                        return
                except harness.requests.RequestException:
                    pass
                time.sleep(interval)
        raise AssertionError(f"/readyz not 200 after {tries} tries\n{self.log()}")

    def stop(self, timeout=30):
        """SIGTERM; the exit code (None if it had to be killed)."""
        if self.proc.poll() is not None:
            return self.proc.returncode
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=10)
            return None


class DebianPackageTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="audiodrop-package-test-")
        cls.version = project_version()
        cls.arch = run(["dpkg", "--print-architecture"]).stdout.strip()
        env = dict(os.environ, SKIP_BUILD="1", BUILD_DIR=BUILD_DIR)
        out = run(["bash", os.path.join(REPO, "scripts", "package.sh"),
                   os.path.join(cls.tmp, "out")], env=env, timeout=600).stdout
        cls.deb = out.strip().splitlines()[-1]
        cls.contents = os.path.join(cls.tmp, "contents")
        run(["dpkg-deb", "-x", cls.deb, cls.contents])
        cls.control = os.path.join(cls.tmp, "control")
        run(["dpkg-deb", "-e", cls.deb, cls.control])

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def field(self, name):
        return run(["dpkg-deb", "-f", self.deb, name]).stdout.strip()

    # The .deb -------------------------------------------------------------------------
    def test_file_name_and_control_fields(self):
        self.assertEqual(os.path.basename(self.deb), f"audiodrop_{self.version}_{self.arch}.deb")
        self.assertEqual(self.field("Package"), "audiodrop")
        self.assertEqual(self.field("Version"), self.version)
        self.assertEqual(self.field("Architecture"), self.arch)
        self.assertEqual(self.field("Section"), "net")
        self.assertIn("@", self.field("Maintainer"))
        self.assertIn("File Upload API", self.field("Description"))
        # dpkg-shlibdeps computed the libraries' packages; postinst needs adduser.
        depends = [d.strip() for d in self.field("Depends").split(",")]
        names = {d.split()[0] for d in depends}
        for package in ("adduser", "libc6", "libssl3", "libsqlite3-0", "libcurl4",
                        "libpq5", "libjemalloc2"):
            self.assertIn(package, names, f"Depends: {depends}")
        self.assertTrue(any(d.startswith("libc6 (>=") for d in depends), depends)

    def test_files_and_modes(self):
        listing = run(["dpkg-deb", "-c", self.deb]).stdout.splitlines()
        entries = {}
        for line in listing:
            mode, owner, _size, _date, _time, path = line.split(None, 5)
            entries[path.removeprefix(".").rstrip("/") or "/"] = (mode, owner)
        files = {p for p, (mode, _) in entries.items() if not mode.startswith("d")}
        self.assertEqual(files, set(PACKAGED_FILES), "exactly the package's files")
        for path, (mode, owner) in entries.items():
            self.assertEqual(owner, "root/root", path)
        for binary in BINARIES:
            self.assertEqual(entries[binary][0], "-rwxr-xr-x", binary)
        self.assertEqual(entries[CONFIG][0], "-rw-r-----", "the config may hold secrets")
        self.assertEqual(entries[UNIT][0], "-rw-r--r--")

    def test_conffile_and_maintainer_scripts(self):
        with open(os.path.join(self.control, "conffiles")) as f:
            self.assertEqual(f.read().split(), [CONFIG])
        for script in ("postinst", "prerm", "postrm"):
            path = os.path.join(self.control, script)
            self.assertTrue(os.access(path, os.X_OK), f"{script} not executable")
            run(["sh", "-n", path])  # syntax
            with open(path) as f:
                text = f.read()
            # Installing where systemd does not run (a container, a chroot) must work.
            self.assertIn("[ -d /run/systemd/system ]", text, script)

    def test_binaries_are_stripped(self):
        for binary in BINARIES:
            sections = run(["readelf", "-S", "-W", self.contents + binary]).stdout
            self.assertNotIn(".debug_info", sections, binary)
            self.assertNotIn(".symtab", sections, binary)

    def test_man_pages_show_the_options(self):
        for page, options in ((MAN_PAGES[0], ["--config", "--data-dir", "--listen"]),
                              (MAN_PAGES[1], ["--endpoint", "--json"])):
            text = run(["man", "-l", "-P", "cat", self.contents + page],
                       env=dict(os.environ, MANWIDTH="100", MAN_KEEP_FORMATTING="0")).stdout
            text = re.sub(r".\x08", "", text)  # overstrike bold, if any
            for option in options:
                self.assertIn(option, text, page)
            self.assertIn(self.version, text, page)

    def test_unit_runs_the_packaged_command_sandboxed(self):
        with open(self.contents + UNIT) as f:
            unit = unit_settings(f.read())
        self.assertEqual(unit["ExecStart"], [f"/usr/bin/audiodrop-server --config {CONFIG} serve"])
        self.assertEqual(unit["ExecReload"], ["/bin/kill -HUP $MAINPID"])
        expected = {
            "User": "audiodrop", "StateDirectory": "audiodrop", "Restart": "on-failure",
            "ProtectSystem": "strict", "ProtectHome": "yes", "NoNewPrivileges": "yes",
            "PrivateTmp": "yes", "PrivateDevices": "yes", "ProtectKernelTunables": "yes",
            "ProtectKernelModules": "yes", "ProtectControlGroups": "yes",
            "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX", "RestrictNamespaces": "yes",
            "LockPersonality": "yes", "MemoryDenyWriteExecute": "yes",
            "SystemCallFilter": "@system-service", "CapabilityBoundingSet": "",
        }
        for key, value in expected.items():
            self.assertEqual(unit.get(key), [value], key)
        self.assertGreaterEqual(int(unit["LimitNOFILE"][0]), 65536)

    def test_config_keeps_tls_commented_out(self):
        with open(self.contents + CONFIG) as f:
            text = f.read()
        self.assertRegex(text, r'(?m)^data-dir = "/var/lib/audiodrop"$')
        self.assertRegex(text, r"(?m)^listen = ")
        self.assertRegex(text, r"(?m)^storage-listen = ")
        for key in ("public-url", "storage-public-url", "tls-cert", "tls-key",
                    "storage-tls-cert", "storage-tls-key"):
            self.assertRegex(text, rf"(?m)^#{key} = ", key)

    def test_lintian(self):
        if shutil.which("lintian") is None:
            self.skipTest("lintian is not installed (optional)")
        proc = run(["lintian", "--no-tag-display-limit", self.deb], check=False, timeout=300)
        print(proc.stdout, end="", file=sys.stderr)
        errors = [line for line in proc.stdout.splitlines() if line.startswith("E:")
                  and line.split()[2] not in ACCEPTED_LINTIAN_ERRORS]
        self.assertEqual(errors, [], "lintian errors")

    # Installed --------------------------------------------------------------------------
    def test_install_run_upload_purge(self):
        if os.geteuid() != 0:
            _install_skipped.append(True)
            self.skipTest("installing the package needs root (CI runs the tests as root)")
        lock = SystemLock()
        try:
            if dpkg_status("audiodrop") or os.path.exists(DATA_DIR):
                _install_skipped.append(True)
                self.skipTest("an audiodrop package or /var/lib/audiodrop is already on this "
                              "machine; not touching it (dpkg --purge audiodrop to run this)")
            try:
                dpkg("-i", self.deb)
                self.check_installed()
                self.check_server_and_upload()
                self.check_man_pages()
                self.check_unit_verifies()
            finally:
                if dpkg_status("audiodrop"):
                    dpkg("--purge", "audiodrop")
            self.check_purged()
        finally:
            lock.release()

    def check_installed(self):
        self.assertEqual(dpkg_status("audiodrop"), "install ok installed")
        user = pwd.getpwnam("audiodrop")
        self.assertLess(user.pw_uid, 1000, "a system user")
        data = os.stat(DATA_DIR)
        self.assertEqual((data.st_uid, data.st_mode & 0o777), (user.pw_uid, 0o750))
        config = os.stat(CONFIG)
        self.assertEqual((config.st_uid, config.st_gid, config.st_mode & 0o777),
                         (0, user.pw_gid, 0o640))
        # Enabled (deb-systemd-helper writes the link even where systemd does not run).
        if shutil.which("deb-systemd-helper"):
            self.assertEqual(os.readlink(ENABLED_LINK), UNIT)

    def check_server_and_upload(self):
        with open(UNIT) as f:
            unit = unit_settings(f.read())
        log_path = os.path.join(self.tmp, "server.log")
        server = InstalledServer(unit["ExecStart"][0], unit["User"][0], log_path)
        try:
            server.wait_readyz()
            self.assertIn(DATA_DIR, json.dumps(server.ready), "the config's data-dir")
            # README.md's command, run while the service runs.
            as_audiodrop = (["sudo", "-u", "audiodrop"] if shutil.which("sudo") else
                            ["setpriv", "--reuid=audiodrop", "--regid=audiodrop",
                             "--init-groups", "--"])
            partner = json.loads(run(as_audiodrop + [
                "/usr/bin/audiodrop-server", "--config", CONFIG, "partner", "create",
                "--name", "package-test"], cwd="/").stdout)
            cli = ["/usr/bin/audiodrop", "--endpoint", server.base_url,
                   "--state-dir", os.path.join(self.tmp, "cli-state")]
            partner_token = run(cli + ["token", "partner", "--client-id", partner["client_id"],
                                       "--secret-key", partner["secret_key"]]).stdout.strip()
            user_token = run(cli + ["token", "user", "--partner-token", partner_token,
                                    "--user-id", "package-user-1"]).stdout.strip()
            data = os.urandom(6 * harness.MiB + 123)  # two parts
            recording = os.path.join(self.tmp, "recording.mp3")
            with open(recording, "wb") as f:
                f.write(data)
            result = json.loads(run(cli + ["--json", "-q", "upload", recording],
                                    env=dict(os.environ, AUDIODROP_TOKEN=user_token)).stdout)
            self.assertEqual(result["FileMd5"], hashlib.md5(data).hexdigest())
            self.assertEqual(result["PartsSent"], 2)
            with harness.http_session() as http:
                downloaded = http.get(result["DownloadUrl"], timeout=harness.TIMEOUT)
            self.assertEqual(downloaded.status_code, 200)
            self.assertEqual(hashlib.md5(downloaded.content).hexdigest(), result["FileMd5"])
        except BaseException:
            print(f"--- installed server log ---\n{server.log()}", file=sys.stderr)
            raise
        finally:
            rc = server.stop()
        self.assertEqual(rc, 0, f"exit after SIGTERM\n{server.log()}")
        # Everything it wrote belongs to the service's user.
        uid = pwd.getpwnam("audiodrop").pw_uid
        for root, dirs, files in os.walk(DATA_DIR):
            for name in dirs + files:
                self.assertEqual(os.lstat(os.path.join(root, name)).st_uid, uid, name)

    def check_man_pages(self):
        for page in MAN_PAGES:
            self.assertTrue(os.path.exists(page), page)
        text = run(["man", "-P", "cat", "audiodrop-server"],
                   env=dict(os.environ, MANWIDTH="100")).stdout
        self.assertIn("--data-dir", re.sub(r".\x08", "", text))

    def check_unit_verifies(self):
        if shutil.which("systemd-analyze") is None:
            print("note: systemd-analyze is absent (package systemd); unit not verified",
                  file=sys.stderr)
            return
        proc = run(["systemd-analyze", "verify", UNIT], check=False)
        # verify also reports on units the system has elsewhere; only ours counts here.
        ours = [line for line in (proc.stdout + proc.stderr).splitlines()
                if "audiodrop" in line]
        self.assertEqual(ours, [], proc.stdout + proc.stderr)
        self.assertEqual(proc.returncode, 0, proc.stdout + proc.stderr)

    def check_purged(self):
        self.assertEqual(dpkg_status("audiodrop"), "")
        for path in PACKAGED_FILES + [DATA_DIR, "/etc/audiodrop", ENABLED_LINK,
                                      "/usr/share/doc/audiodrop"]:
            self.assertFalse(os.path.lexists(path), f"{path} left after purge")


def main():
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    if not prog.result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if _install_skipped else 0)


if __name__ == "__main__":
    main()
