"""What an operator meets before the first upload: --help of every subcommand lists the
options it takes, a flag beats the environment which beats the config file, a short token
signing key is refused, the data dir and everything in it is private to the server's
user, no planted symlink is followed, and `serve` and `partner create` started together
on a fresh data dir agree on the generated keys."""

import json
import os
import re
import shutil
import stat
import subprocess
import tempfile
import unittest

import harness
from harness import CHUNK_SIZE

OPTION_LINE = re.compile(r"^\s+(?:-\w,)?(--[\w-]+)", re.MULTILINE)
SHORT_KEY_MESSAGE = "--token-signing-key must be at least 32 characters"


def run_server_binary(*args, env=None, timeout=60):
    run_env = dict(os.environ)
    run_env.update(env or {})
    return subprocess.run([harness.server_binary(), *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, env=run_env, stdin=subprocess.DEVNULL)


def listed_options(help_text):
    return set(OPTION_LINE.findall(help_text))


def scratch_dir(test):
    """A temp dir removed when `test` ends."""
    path = tempfile.mkdtemp(prefix="audiodrop-itest-")
    test.addCleanup(shutil.rmtree, path, True)
    return path


def fresh_server(**kwargs):
    """A Server whose data dir does not exist yet, so the server itself creates it."""
    server = harness.Server(**kwargs)
    os.rmdir(server.data_dir)
    return server


def modes_under(root):
    """{path relative to root: permission bits} of root and everything in it."""
    out = {".": stat.S_IMODE(os.lstat(root).st_mode)}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            try:
                out[os.path.relpath(path, root)] = stat.S_IMODE(os.lstat(path).st_mode)
            except FileNotFoundError:
                pass  # a temp file renamed while we looked
    return out


def not_private(modes, root):
    """Entries whose mode is not 0700 (directories) or 0600 (files)."""
    wrong = {}
    for rel, mode in modes.items():
        path = os.path.join(root, rel)
        want = 0o700 if os.path.isdir(path) else 0o600
        if mode != want:
            wrong[rel] = oct(mode)
    return wrong


def partner_create_command(data_dir, name):
    return [harness.server_binary(), "partner", "create", "--name", name, "--data-dir", data_dir]


class Help(unittest.TestCase):
    def help_of(self, *command):
        proc = run_server_binary(*command, "--help")
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def test_every_subcommand_lists_the_options_it_takes(self):
        everything = listed_options(self.help_of())
        self.assertLessEqual({"--help", "--config", "--data-dir", "--listen",
                              "--token-signing-key", "--database-url", "--s3-endpoint",
                              "--trusted-proxies"},
                             everything)
        self.assertEqual(listed_options(self.help_of("serve")), everything)
        self.assertEqual(listed_options(self.help_of("partner")), everything)
        self.assertEqual(listed_options(self.help_of("partner", "create")),
                         everything | {"--name"})
        self.assertEqual(listed_options(self.help_of("partner", "revoke-tokens")), everything)
        self.assertIn("client_id", self.help_of("partner", "revoke-tokens"))
        for subcommand in ("create", "revoke-tokens"):
            self.assertIn(subcommand, self.help_of("partner"))


class Precedence(unittest.TestCase):
    def region_served(self, *args, env=None):
        """The region=... of the ready line of a server started with `args` and `env`."""
        with harness.Server(*args, env=env) as server:
            with open(server.log_path) as f:
                ready = [line for line in f if "msg=ready" in line][-1]
        return re.search(r"\bregion=(\S+)", ready).group(1)

    def test_a_flag_beats_the_environment_which_beats_the_config_file(self):
        config = os.path.join(scratch_dir(self), "audiodrop.toml")
        with open(config, "w") as f:
            f.write('region = "file"\n')
        env = {"AUDIODROP_REGION": "env"}
        self.assertEqual(self.region_served("--config", config), "file")
        self.assertEqual(self.region_served("--config", config, env=env), "env")
        self.assertEqual(self.region_served("--config", config, "--region", "flag", env=env),
                         "flag")


class TokenSigningKey(unittest.TestCase):
    def test_a_key_shorter_than_32_characters_is_refused_everywhere(self):
        data_dir = os.path.join(scratch_dir(self), "data")
        for short in ("k", "k" * 31):
            for command in (["serve"], ["partner", "create", "--name", "p"]):
                with self.subTest(key_length=len(short), command=command):
                    by_flag = run_server_binary(*command, "--data-dir", data_dir,
                                                "--token-signing-key", short)
                    self.assertEqual(by_flag.returncode, 2, by_flag.stderr)
                    self.assertIn(SHORT_KEY_MESSAGE, by_flag.stderr)
                    by_env = run_server_binary(*command, "--data-dir", data_dir,
                                               env={"AUDIODROP_TOKEN_SIGNING_KEY": short})
                    self.assertEqual(by_env.returncode, 2, by_env.stderr)
                    self.assertIn(SHORT_KEY_MESSAGE, by_env.stderr)
        self.assertFalse(os.path.exists(data_dir), "a refused start creates nothing")

    def test_a_32_character_key_serves_and_the_generated_key_is_long_enough(self):
        key = harness.random_text(32)
        with harness.Server("--token-signing-key", key) as server:
            cred = harness.create_partner(server, env={"AUDIODROP_TOKEN_SIGNING_KEY": key})
            api = harness.Api(server)
            self.addCleanup(api.close)
            self.assertEqual(api.generate(api.new_user(cred), 10).status_code, 200)
        with harness.Server() as server:
            with open(os.path.join(server.data_dir, "secrets.json")) as f:
                generated = json.load(f)["token_signing_key"]
        self.assertGreaterEqual(len(generated), 32)

    def test_a_short_key_in_secrets_json_is_refused_with_the_files_name(self):
        data_dir = os.path.join(scratch_dir(self), "data")
        os.makedirs(data_dir)
        secrets_path = os.path.join(data_dir, "secrets.json")
        with open(secrets_path, "w") as f:
            json.dump({"storage_access_key": "AKIAEXAMPLEEXAMPLE00",
                       "storage_secret_key": harness.random_text(40),
                       "token_signing_key": "short"}, f)
        proc = run_server_binary("partner", "create", "--name", "p", "--data-dir", data_dir)
        self.assertEqual(proc.returncode, 1, proc.stderr)
        self.assertIn(f"the token_signing_key in {secrets_path} is shorter than 32 characters",
                      proc.stderr)


class DataDirPermissions(unittest.TestCase):
    def upload_one_complete_and_one_open(self, server, cred):
        api = harness.Api(server)
        self.addCleanup(api.close)
        token = api.new_user(cred)
        data = harness.random_bytes(CHUNK_SIZE + 100)
        _, done = api.upload_file(token, data)
        self.assertEqual(harness.download(done["DownloadUrl"]).content, data)
        plan = api.start_upload(token, 2 * CHUNK_SIZE)
        harness.put_all_parts(plan, harness.random_bytes(2 * CHUNK_SIZE), only=[1])
        return api, token, done

    def test_everything_the_server_and_partner_create_make_is_private(self):
        server = fresh_server(explicit_keys=False)
        server.start()
        try:
            cred = harness.create_partner(server)
            self.upload_one_complete_and_one_open(server, cred)
            modes = modes_under(server.data_dir)  # while serving: SQLite's -wal and -shm too
        finally:
            server.stop()
        names = {os.path.basename(rel) for rel in modes}
        self.assertLessEqual({"secrets.json", "metadata.sqlite3", "objects", "uploads"}, names)
        self.assertTrue(any(re.fullmatch(r"\d{5}\.[0-9a-f]{32}", n) for n in names), names)
        self.assertEqual(not_private(modes, server.data_dir), {})

    def test_a_data_dir_made_world_readable_by_an_older_version_keeps_working(self):
        server = harness.Server(explicit_keys=False)
        server.start()
        cred = harness.create_partner(server)
        api, token, done = self.upload_one_complete_and_one_open(server, cred)
        server.stop()
        old = set(modes_under(server.data_dir))
        for rel in old:
            path = os.path.join(server.data_dir, rel)
            os.chmod(path, 0o755 if os.path.isdir(path) else 0o644)
        server.start()
        try:
            self.assertEqual(api.get_file(token, done["FileId"]).status_code, 200)
            self.assertEqual(harness.download(done["DownloadUrl"]).status_code, 200)
            data = harness.random_bytes(2 * CHUNK_SIZE + 1)
            _, again = api.upload_file(token, data)
            self.assertEqual(harness.download(again["DownloadUrl"]).content, data)
            api.new_user(harness.create_partner(server))
            modes = modes_under(server.data_dir)
        finally:
            server.stop()
        # SQLite gives its -wal and -shm files the database file's mode, on purpose.
        new = {rel: mode for rel, mode in modes.items()
               if rel not in old and not re.search(r"\.sqlite3-(wal|shm|journal)$", rel)}
        self.assertTrue(any(re.search(r"/\d{5}\.[0-9a-f]{32}$", rel) for rel in new), new)
        self.assertEqual(not_private(new, server.data_dir), {})

    def test_a_symlink_planted_for_the_secrets_file_is_not_followed(self):
        root = scratch_dir(self)
        victim = os.path.join(root, "victim")
        for planted in ("secrets.json.tmp", "secrets.lock"):
            with self.subTest(planted=planted):
                data_dir = os.path.join(root, "data-" + planted)
                os.makedirs(data_dir, mode=0o700)
                os.symlink(victim, os.path.join(data_dir, planted))
                proc = subprocess.run(partner_create_command(data_dir, "p"), capture_output=True,
                                      text=True, timeout=60, stdin=subprocess.DEVNULL)
                if planted == "secrets.lock":
                    # The lock is ours alone: a symlink there is refused, never followed.
                    self.assertEqual(proc.returncode, 1, proc.stderr)
                    self.assertIn("secrets.lock", proc.stderr)
                    self.assertFalse(os.path.exists(os.path.join(data_dir, "secrets.json")))
                    self.assertEqual(os.readlink(os.path.join(data_dir, planted)), victim)
                else:
                    # Temp files have fresh names; what looks like a stale one is removed.
                    self.assertEqual(proc.returncode, 0, proc.stderr)
                    st = os.lstat(os.path.join(data_dir, "secrets.json"))
                    self.assertTrue(stat.S_ISREG(st.st_mode))
                    self.assertEqual(stat.S_IMODE(st.st_mode), 0o600)
                    self.assertFalse(os.path.lexists(os.path.join(data_dir, planted)))
                self.assertFalse(os.path.lexists(victim), "the symlink's target was written")


class GeneratedSecretsRace(unittest.TestCase):
    PARTNER_CREATES = 6
    ROUNDS = 3

    def race_on_a_fresh_data_dir(self):
        """Starts PARTNER_CREATES `partner create` and one `serve` at once on a data dir
        that does not exist; returns the server (running) and the credentials."""
        server = fresh_server(explicit_keys=False)
        creates = [subprocess.Popen(partner_create_command(server.data_dir, f"p{i}"),
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    stdin=subprocess.DEVNULL)
                   for i in range(self.PARTNER_CREATES)]
        try:
            server.start()
        finally:
            outputs = [p.communicate(timeout=120) for p in creates]
        creds = []
        for proc, (out, err) in zip(creates, outputs):
            self.assertEqual(proc.returncode, 0, err)
            creds.append(json.loads(out))
        return server, creds

    def test_serve_and_partner_creates_started_together_share_one_set_of_keys(self):
        for round_number in range(self.ROUNDS):
            with self.subTest(round=round_number):
                server, creds = self.race_on_a_fresh_data_dir()
                secrets_path = os.path.join(server.data_dir, "secrets.json")
                try:
                    with open(secrets_path) as f:
                        secrets_after_race = json.load(f)
                    api = harness.Api(server)
                    self.addCleanup(api.close)
                    issued = []
                    for cred in creds:
                        token = api.new_user(cred)
                        data = harness.random_bytes(1000)
                        _, done = api.upload_file(token, data)
                        issued.append((token, done["FileId"], done["DownloadUrl"], data))
                    # Tokens and presigned URLs issued before a restart stay valid only if
                    # the running server signed with the keys on disk.
                    server.restart()
                    for token, file_id, url, data in issued:
                        self.assertEqual(api.get_file(token, file_id).status_code, 200)
                        self.assertEqual(harness.download(url).content, data)
                    with open(secrets_path) as f:
                        self.assertEqual(json.load(f), secrets_after_race)
                    leftovers = [n for n in os.listdir(server.data_dir) if n.endswith(".tmp")]
                    self.assertEqual(leftovers, [])
                finally:
                    server.stop()
                    server.cleanup()


if __name__ == "__main__":
    harness.main()
