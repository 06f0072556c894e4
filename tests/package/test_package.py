"""The Debian package, end to end.

scripts/package.sh packs this build's own binaries (SKIP_BUILD=1: nothing compiles
twice) into audiodrop_<version>_<arch>.deb. The test checks its metadata, its files
and their modes, the conffile, the maintainer scripts, stripped binaries, and a man page
for the program and each subcommand holding the options its --help lists (the
subcommands are read from the binaries' --help, so a new one without a page fails);
lintian when installed.

Then, as root, it follows README.md's "Install the Debian package" walkthrough: the
blocks marked `<!-- package walkthrough: NAME -->` run with bash as README gives them,
but for what needs a running systemd or the network: apt installs this test's .deb
rather than dist/'s, and instead of `systemctl enable --now` the test runs the installed
server exactly as the installed unit's ExecStart says (as its User=, with the unit's
environment and UMask=, under no-new-privs and, where the kernel has it, PR_SET_MDWE as
MemoryDenyWriteExecute=yes asks), with the listeners moved to ports the kernel picks
(the walkthrough's 127.0.0.1:8080 becomes the API's). So: install, a self-signed
certificate whose key only the service's group reads, the config's TLS lines
uncommented, a partner created with the installed audiodrop-server, an upload over
HTTPS with the installed CLI and --ca-cert, the DownloadUrl fetched with
curl --cacert and compared byte for byte, and the purge, checking nothing is left. It
also reads the installed man pages with man and verifies the unit with systemd-analyze.

Installing needs root (CI runs as root): otherwise that part is skipped and the test
exits 77, which CTest shows as skipped. It is skipped as well when an audiodrop package,
/var/lib/audiodrop or /etc/audiodrop already exists: never touch a real installation.

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
import textwrap
import time
import unittest

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "integration"))
import harness  # noqa: E402

REPO = os.path.abspath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
BUILD_DIR = os.path.abspath(os.environ.get("AUDIODROP_BUILD_DIR") or os.path.join(REPO, "build"))
COMMAND_TIMEOUT = 120  # seconds for any one command (dpkg, cpack, lintian, the CLI)
README = os.path.join(REPO, "README.md")
CONFIG_DIR = "/etc/audiodrop"
CONFIG = "/etc/audiodrop/audiodrop.toml"
UNIT = "/lib/systemd/system/audiodrop.service"
DATA_DIR = "/var/lib/audiodrop"
ENABLED_LINK = "/etc/systemd/system/multi-user.target.wants/audiodrop.service"
BINARIES = ["/usr/bin/audiodrop-server", "/usr/bin/audiodrop"]
MAN_DIR = "/usr/share/man/man1"
DOCS = ["/usr/share/doc/audiodrop/README.md", "/usr/share/doc/audiodrop/API.md",
        "/usr/share/doc/audiodrop/openapi.yaml",
        "/usr/share/doc/audiodrop/audiodrop-dashboard.json", "/usr/share/doc/audiodrop/copyright"]
# What the walkthrough's TLS steps make: the certificate, and the key the service reads.
TLS_CERT = "/etc/audiodrop/tls/server.pem"
TLS_KEY = "/etc/audiodrop/tls/server.key"
# Where README's upload block finds the API, which the test moves to a port the kernel picks.
README_API_ADDRESS = "127.0.0.1:8080"
# man's rendering, plain ASCII, wide, never hyphenated: an option is never split.
MAN = ["man", "--no-hyphenation", "--no-justification", "-P", "cat"]
MAN_ENV = dict(os.environ, MANWIDTH="200", LC_ALL="C", MAN_KEEP_FORMATTING="0")
# Lintian errors accepted on purpose, each with its reason (warnings are only shown;
# one is non-standard-file-perm: the config ships 0640 as it may hold secrets).
ACCEPTED_LINTIAN_ERRORS = {
    # No Debian changelog: the version comes from CMakeLists.txt, the changes from git.
    "no-changelog",
}

# Runs argv[2:] with the umask argv[1] (octal) after asking the kernel to refuse
# writable+executable memory to this process and what it execs (PR_SET_MDWE, Linux
# 6.3+), as UMask= and MemoryDenyWriteExecute=yes do; prints a note if the kernel cannot.
UNIT_EXEC = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN = 65, 1
if libc.prctl(PR_SET_MDWE, PR_MDWE_REFUSE_EXEC_GAIN, 0, 0, 0) != 0:
    print("note: this kernel has no PR_SET_MDWE; running without it", file=sys.stderr)
os.umask(int(sys.argv[1], 8))
os.execv(sys.argv[2], sys.argv[2:])
"""

# Runs argv[2:] in a mount namespace of its own (unshare) with the unit's filesystem
# sandbox as systemd would set it up: ProtectSystem=strict (everything read-only but
# /dev, /proc, /sys and the StateDirectory, argv[1]), ProtectHome=yes and PrivateTmp=yes
# (empty tmpfs instead). So the server reads its config and TLS key from /etc through it.
SANDBOX_EXEC = r"""
set -eu
state=$1; shift
mount --bind "$state" "$state"
awk '{ print $5 }' /proc/self/mountinfo | sort -u | while read -r m; do
  case $m in /proc|/proc/*|/sys|/sys/*|/dev|/dev/*|"$state") continue ;; esac
  mount -o remount,bind,ro "$m"
done
for dir in /home /root /run/user /tmp /var/tmp; do
  if [ -d "$dir" ]; then mount -t tmpfs -o mode=0755 tmpfs "$dir"; fi
done
exec "$@"
"""

# Where sudo is not installed, what the walkthrough's `sudo` and `sudo -u USER` do (the
# test runs as root already).
SUDO_WITHOUT_SUDO = """
sudo() {
  if [ "$1" = -u ]; then
    local user=$2; shift 2
    setpriv --reuid="$user" --regid="$user" --init-groups -- "$@"
  else
    "$@"
  fi
}
"""

# Set when the install test is skipped, to exit 77 (CTest: skipped).
_install_skipped = []


def run(cmd, timeout=COMMAND_TIMEOUT, check=True, env=None, **kwargs):
    """Runs `cmd`, output captured as text, its stdin empty unless `input` is given; with
    `check`, a failure shows its output."""
    if "input" not in kwargs:
        kwargs["stdin"] = subprocess.DEVNULL
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env,
                          **kwargs)
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


def readme_walkthrough():
    """{name: commands} of README.md's shell blocks marked <!-- package walkthrough: NAME -->."""
    with open(README) as f:
        text = f.read()
    blocks = {}
    marked = r"<!-- package walkthrough: ([\w-]+) -->\n([ \t]*)```sh\n(.*?)\n\2```"
    for match in re.finditer(marked, text, re.S):
        blocks[match.group(1)] = textwrap.dedent(match.group(3))
    return blocks


def help_blocks(help_text):
    """{heading: [lines]} of a CLI11 --help: "Options:", "Subcommands:", ... blocks."""
    blocks, heading = {}, None
    for line in help_text.splitlines():
        if re.fullmatch(r"\S.*:", line):
            heading = line[:-1]
            blocks[heading] = []
        elif not line.strip():
            heading = None
        elif heading:
            blocks[heading].append(line)
    return blocks


def own_options(help_text):
    """The options a --help lists as its command's own (not under "Global options:")."""
    options = []
    for line in help_blocks(help_text).get("Options", []):
        match = re.match(r"\s+(?:(-\w),)?(--[\w-]+)", line)
        if match:
            options += [o for o in match.groups() if o]
    return options


def command_tree(binary, words=()):
    """[(words, --help text)] of `binary` and, depth first, each of its subcommands."""
    help_text = run([binary, *words, "--help"]).stdout
    tree = [(list(words), help_text)]
    for line in help_blocks(help_text).get("Subcommands", []):
        tree += command_tree(binary, (*words, line.split()[0]))
    return tree


def man_page_name(binary, words):
    """git's naming: the page of `audiodrop-server partner create` is
    audiodrop-server-partner-create(1)."""
    return "-".join([os.path.basename(binary), *words])


def render_man_page(page):
    """man's plain text of `page`, a path or a page's name."""
    text = run(MAN + (["-l", page] if page.startswith("/") else [page]), env=MAN_ENV).stdout
    text = re.sub(r".\x08", "", text)  # overstrike bold, if any
    # A line may still break after a hyphen, as within a page's name in SEE ALSO.
    return re.sub(r"(?<=\w-)\n\s+", "", text)


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


def unit_environment(unit):
    """The environment systemd gives the unit's process: its fixed PATH, the User='s
    USER, LOGNAME, HOME and SHELL, then the unit's Environment= assignments."""
    user = pwd.getpwnam(unit["User"][0])
    env = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
           "USER": user.pw_name, "LOGNAME": user.pw_name, "HOME": user.pw_dir,
           "SHELL": user.pw_shell}
    for assignments in unit.get("Environment", []):
        for assignment in shlex.split(assignments):
            key, _, value = assignment.partition("=")
            env[key] = value
    return env


def sandbox(unit):
    """The command prefix that sets up the unit's filesystem sandbox (SANDBOX_EXEC); none,
    with a note, where this machine refuses a mount namespace."""
    assert unit["ProtectSystem"] == ["strict"] and unit["ProtectHome"] == ["yes"] and \
        unit["PrivateTmp"] == ["yes"], "SANDBOX_EXEC sets up what the unit asks"
    if run(["unshare", "--mount", "true"], check=False).returncode != 0:
        print("note: no mount namespace here; the server runs without the unit's "
              "filesystem sandbox", file=sys.stderr)
        return []
    state_dir = "/var/lib/" + unit["StateDirectory"][0]
    return ["unshare", "--mount", "--propagation", "private", "--", "sh", "-c", SANDBOX_EXEC,
            "sandbox", state_dir]


class InstalledServer:
    """The installed audiodrop-server started the way the unit starts it, with the
    listeners moved to ports the kernel picks (a flag beats the config file); its API
    over HTTPS, trusting `ca_cert`."""

    def __init__(self, unit, ca_cert, log_path):
        self.log_path = log_path
        self.ca_cert = ca_cert
        user = unit["User"][0]
        command = shlex.split(unit["ExecStart"][0]) + ["--listen", "127.0.0.1:0",
                                                       "--storage-listen", "127.0.0.1:0"]
        # As the unit's user, with its supplementary groups (the config and the TLS key are
        # group-readable only), no new privileges, its umask, and MDWE, in its sandbox.
        self.command = sandbox(unit) + [
            "setpriv", f"--reuid={user}", f"--regid={user}", "--init-groups",
            "--no-new-privs", "--", "/usr/bin/python3", "-c", UNIT_EXEC, unit["UMask"][0],
            *command]
        with open(log_path, "wb") as log:
            self.proc = subprocess.Popen(self.command, stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT, cwd="/",
                                         env=unit_environment(unit))
        self.ready = self._wait_ready()
        self.api_address = self.ready["api"]
        self.storage_port = harness.port_of(self.ready["storage"])
        self.base_url = f"https://{self.api_address}"

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
            http.verify = self.ca_cert
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
        # {page path: (binary, words, --help text)}: the program and each subcommand, as
        # the packaged binaries' --help names them.
        cls.man_pages = {}
        for binary in BINARIES:
            for words, help_text in command_tree(cls.contents + binary):
                page = f"{MAN_DIR}/{man_page_name(binary, words)}.1.gz"
                cls.man_pages[page] = (binary, words, help_text)
        cls.packaged_files = BINARIES + list(cls.man_pages) + DOCS + [CONFIG, UNIT]

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
        self.assertEqual(files, set(self.packaged_files), "exactly the package's files")
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

    def test_man_pages_show_each_commands_options(self):
        # The subcommands themselves are checked by test_files_and_modes: a page each.
        self.assertGreater(len(self.man_pages), len(BINARIES), "subcommand pages")
        for page, (binary, words, help_text) in self.man_pages.items():
            with self.subTest(page=page):
                text = render_man_page(self.contents + page)
                name = man_page_name(binary, words)
                self.assertRegex(text, rf"(?m)^NAME\n\s+{re.escape(name)} - \S", "its NAME")
                self.assertIn(f"audiodrop {self.version}", text, "the version")
                options = own_options(help_text)
                self.assertIn("--help", options, "own_options found the options")
                for option in options:
                    self.assertRegex(text, rf"(?<![\w-]){re.escape(option)}(?![\w-])", option)
                see_also = text.partition("\nSEE ALSO\n")[2]
                if words:
                    # The global options are on the program's page, which it points at.
                    self.assertIn(f"{os.path.basename(binary)}(1)", see_also)
                else:
                    # The program's page names every subcommand's page.
                    for other, (other_binary, other_words, _) in self.man_pages.items():
                        if other_binary == binary and other_words:
                            self.assertIn(f"{man_page_name(binary, other_words)}(1)", see_also)

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

    # Installed: README.md's walkthrough ---------------------------------------------------
    def test_readme_walkthrough_install_https_upload_purge(self):
        if os.geteuid() != 0:
            _install_skipped.append(True)
            self.skipTest("installing the package needs root (CI runs the tests as root)")
        lock = SystemLock()
        try:
            if dpkg_status("audiodrop") or any(map(os.path.exists, (DATA_DIR, CONFIG_DIR))):
                _install_skipped.append(True)
                self.skipTest("an audiodrop package, /var/lib/audiodrop or /etc/audiodrop is "
                              "already on this machine; not touching it (dpkg --purge "
                              "audiodrop and remove them to run this)")
            self.walkthrough = readme_walkthrough()
            self.work = os.path.join(self.tmp, "walkthrough")
            os.makedirs(self.work)
            try:
                self.step_install()
                self.check_installed()
                self.step_tls()
                self.step_start_and_upload()
                self.check_man_pages()
                self.check_unit_verifies()
                self.step_purge()
            finally:
                if dpkg_status("audiodrop"):
                    dpkg("--purge", "audiodrop")
                shutil.rmtree(CONFIG_DIR, ignore_errors=True)
            self.check_purged()
        finally:
            lock.release()

    def walkthrough_block(self, name):
        block = self.walkthrough.get(name)
        self.assertIsNotNone(block, f"README.md has no block marked 'package walkthrough: {name}'")
        return block

    def run_walkthrough(self, name, replacements=(), script=None):
        """Runs README's block `name` (or `script`, a part of it) with bash in the
        walkthrough's directory, after the `replacements` ((README's text, the test's)),
        each of which must be in it."""
        script = self.walkthrough_block(name) if script is None else script
        for old, new in replacements:
            self.assertIn(old, script, f"README's '{name}' block")
            script = script.replace(old, new)
        if shutil.which("sudo") is None:
            script = SUDO_WITHOUT_SUDO + script
        # Debian's tools first (python3 is /usr/bin/python3), and the CLI's resume journals
        # in the test's directory, not root's home. apt's "Do you want to continue?" gets
        # the answer a person would type: sudo would drop an apt option from the
        # environment.
        env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME=self.work,
                   XDG_STATE_HOME=os.path.join(self.work, "state"), LC_ALL="C.UTF-8")
        return run(["bash", "-euo", "pipefail", "-c", script], cwd=self.work, env=env,
                   timeout=300, input="y\n")

    def step_install(self):
        block = self.walkthrough_block("install")
        # package.sh made the test's .deb in setUpClass (SKIP_BUILD): apt installs that one.
        self.assertIn("bash scripts/package.sh", block)
        readme_deb = re.search(r"\./dist/audiodrop_\S+\.deb", block)
        self.assertIsNotNone(readme_deb, "README installs ./dist/audiodrop_*.deb")
        self.assertTrue(readme_deb.group().startswith(f"./dist/audiodrop_{self.version}_"),
                        f"README's package has this version, {self.version}")
        install = [line for line in block.splitlines() if "apt install" in line]
        self.assertEqual(len(install), 1, "one apt install line")
        self.run_walkthrough("install", [(readme_deb.group(), self.deb)], script=install[0])

    def step_tls(self):
        """README's certificate and config blocks: a self-signed certificate, its key for
        the service's group alone, and the config naming them."""
        self.run_walkthrough("certificate")
        self.run_walkthrough("config")
        group = pwd.getpwnam("audiodrop").pw_gid
        key = os.stat(TLS_KEY)
        self.assertEqual((key.st_uid, key.st_gid, key.st_mode & 0o777), (0, group, 0o640))
        nobody = run(["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--",
                      "cat", TLS_KEY], check=False)
        self.assertNotEqual(nobody.returncode, 0, "another user reads the key")
        # The edit kept the config's owner and mode, and names those files.
        config = os.stat(CONFIG)
        self.assertEqual((config.st_uid, config.st_gid, config.st_mode & 0o777),
                         (0, group, 0o640))
        with open(CONFIG) as f:
            text = f.read()
        for key_name, path in (("tls-cert", TLS_CERT), ("tls-key", TLS_KEY),
                               ("storage-tls-cert", TLS_CERT), ("storage-tls-key", TLS_KEY)):
            self.assertRegex(text, rf'(?m)^{key_name} = "{re.escape(path)}"$')

    def step_start_and_upload(self):
        start = self.walkthrough_block("start")
        self.assertIn("sudo systemctl enable --now audiodrop", start)
        self.assertIn("journalctl -u audiodrop", start)
        with open(UNIT) as f:
            unit = unit_settings(f.read())
        server = InstalledServer(unit, TLS_CERT, os.path.join(self.tmp, "server.log"))
        try:
            server.wait_readyz()
            self.assertIn(DATA_DIR, json.dumps(server.ready), "the config's data-dir")
            self.run_walkthrough("upload", [(f"https://{README_API_ADDRESS}",
                                             server.base_url)])
            with open(os.path.join(self.work, "partner.json")) as f:
                self.assertRegex(json.load(f)["client_id"], r"\S")
            with open(os.path.join(self.work, "recording.mp3"), "rb") as f:
                recording = f.read()
            with open(os.path.join(self.work, "result.json")) as f:
                result = json.load(f)
            self.assertEqual(result["FileMd5"], hashlib.md5(recording).hexdigest())
            self.assertTrue(result["DownloadUrl"].startswith(
                f"https://127.0.0.1:{server.storage_port}/"), result["DownloadUrl"])
            with open(os.path.join(self.work, "downloaded.mp3"), "rb") as f:
                self.assertTrue(f.read() == recording, "curl downloaded other bytes")
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

    def step_purge(self):
        self.run_walkthrough("purge")
        self.assertEqual(dpkg_status("audiodrop"), "")
        self.assertFalse(os.path.lexists(CONFIG_DIR), "README's purge leaves /etc/audiodrop")

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

    def check_man_pages(self):
        # man finds each page by its name, where the package put it.
        for page in self.man_pages:
            name = os.path.basename(page).removesuffix(".1.gz")
            text = render_man_page(name)
            self.assertRegex(text, rf"(?m)^NAME\n\s+{re.escape(name)} - ", name)

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
        for path in self.packaged_files + [DATA_DIR, CONFIG_DIR, ENABLED_LINK,
                                           "/usr/share/doc/audiodrop"]:
            self.assertFalse(os.path.lexists(path), f"{path} left after purge")


def main():
    prog = unittest.main(module="__main__", exit=False, verbosity=2)
    if not prog.result.wasSuccessful():
        sys.exit(1)
    sys.exit(77 if _install_skipped else 0)


if __name__ == "__main__":
    main()
