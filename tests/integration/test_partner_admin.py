"""Partner administration with the real binary beside a running server: `partner list`
and `show` print what each partner holds; `disable` refuses the partner new tokens (401
partner_disabled) and revokes those it has within seconds, `enable` lets it back in;
`rotate-secret` retires the old secret at once; `delete` is refused while the partner
holds files, and `--with-files` takes its files (bytes too) and tokens with it; an
unknown client_id exits 1 saying which; every subcommand's --help lists its options."""

import re
import subprocess
import unittest

import harness
from harness import assert_api_error, create_partner, download, partner_command, random_bytes

OPTION_LINE = re.compile(r"^\s+(?:-\w,)?(--[\w-]+)", re.MULTILINE)
ISO_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
# The server learns of revocations at its next sync, about a second after the command.
REVOKED_WITHIN = 10


def run_partner(server, *args):
    """`audiodrop-server partner ARGS` on the server's stores: (exit code, stdout, stderr)."""
    proc = subprocess.run([harness.server_binary(), "partner", *args, "--data-dir",
                           server.data_dir], capture_output=True, text=True, timeout=60,
                          env=server.env(), stdin=subprocess.DEVNULL)
    return proc.returncode, proc.stdout, proc.stderr


def wait_refused(api, user_token, code="token_revoked"):
    harness.wait_for(lambda: api.get_file(user_token, "file_missing").status_code == 401,
                     timeout=REVOKED_WITHIN, interval=0.1, what="the user token refused")
    assert_api_error(api.get_file(user_token, "file_missing"), 401, code)


class PartnerAdmin(harness.ServerTestCase):
    # Deleted files' bytes go at the next sweep.
    server_args = ("--sweep-interval", "1")

    def test_list_and_show_print_each_partner_with_what_it_holds(self):
        cred = create_partner(self.server, name="Listed Recorders")
        user = self.api.new_user(cred)
        self.api.upload_file(user, random_bytes(1000))
        self.api.start_upload(user, 2000)  # left open

        listed = partner_command(self.server, "list")
        self.assertIsInstance(listed, list)
        mine = [p for p in listed if p["client_id"] == cred["client_id"]]
        self.assertEqual(len(mine), 1, listed)
        shown = partner_command(self.server, "show", cred["client_id"])
        self.assertEqual(mine[0], shown)
        self.assertEqual(set(shown), {"client_id", "name", "status", "created_at",
                                      "token_generation", "open_uploads", "files"})
        self.assertEqual(shown["name"], "Listed Recorders")
        self.assertEqual(shown["status"], "active")
        self.assertRegex(shown["created_at"], ISO_TIME)
        self.assertEqual((shown["token_generation"], shown["open_uploads"], shown["files"]),
                         (0, 1, 1))
        # Oldest first: the class's partner came before.
        ids = [p["client_id"] for p in listed]
        self.assertLess(ids.index(self.partner["client_id"]), ids.index(cred["client_id"]))

    def test_a_disabled_partner_gets_no_tokens_and_loses_its_own_until_enabled(self):
        cred = create_partner(self.server)
        tokens = self.api.partner_tokens(cred)
        user = self.api.user_token(tokens["access_token"])
        bystander = self.user()  # another partner's user
        self.assertEqual(self.api.get_file(user, "file_missing").status_code, 404)

        shown = partner_command(self.server, "disable", cred["client_id"])
        self.assertEqual(shown["status"], "disabled")
        self.assertRegex(shown["disabled_at"], ISO_TIME)
        self.assertEqual(shown["token_generation"], 1)
        resp = self.api.partner_token_response(cred["client_id"], cred["secret_key"])
        assert_api_error(resp, 401, "partner_disabled")
        self.assertIn("disabled", resp.json()["error"]["message"])
        wait_refused(self.api, user)
        assert_api_error(self.api.user_token_response(tokens["access_token"], "user-000002"),
                         401, "token_revoked")
        assert_api_error(self.api.refresh_response(tokens["refresh_token"]), 401,
                         "invalid_refresh_token")
        self.assertEqual(self.api.get_file(bystander, "file_missing").status_code, 404)

        shown = partner_command(self.server, "enable", cred["client_id"])
        self.assertEqual(shown["status"], "active")
        self.assertNotIn("disabled_at", shown)
        fresh = self.api.new_user(cred)
        self.assertEqual(self.api.get_file(fresh, "file_missing").status_code, 404)
        # What was revoked stays revoked.
        assert_api_error(self.api.get_file(user, "file_missing"), 401, "token_revoked")

    def test_a_rotated_secret_replaces_the_old_one_at_once(self):
        cred = create_partner(self.server)
        user = self.api.new_user(cred)
        rotated = partner_command(self.server, "rotate-secret", cred["client_id"])
        self.assertEqual(set(rotated), {"client_id", "secret_key"})
        self.assertEqual(rotated["client_id"], cred["client_id"])
        self.assertNotEqual(rotated["secret_key"], cred["secret_key"])
        assert_api_error(self.api.partner_token_response(cred["client_id"], cred["secret_key"]),
                         401, "invalid_client")
        self.assertEqual(self.api.partner_token_response(rotated["client_id"],
                                                         rotated["secret_key"]).status_code, 200)
        wait_refused(self.api, user)
        fresh = self.api.new_user(rotated)
        self.assertEqual(self.api.get_file(fresh, "file_missing").status_code, 404)

    def test_delete_is_refused_while_the_partner_holds_files_and_with_files_takes_them(self):
        cred = create_partner(self.server)
        user = self.api.new_user(cred)
        _, done = self.api.upload_file(user, random_bytes(1000))
        self.assertEqual(download(done["DownloadUrl"]).status_code, 200)

        code, out, err = run_partner(self.server, "delete", cred["client_id"])
        self.assertEqual(code, 1, err)
        self.assertEqual(out, "")
        self.assertIn("1 files", err)
        self.assertIn("--with-files", err)
        self.assertEqual(partner_command(self.server, "show", cred["client_id"])["files"], 1)
        self.assertEqual(self.api.get_file(user, done["FileId"]).status_code, 200)

        deleted = partner_command(self.server, "delete", cred["client_id"], "--with-files")
        self.assertEqual(deleted, {"client_id": cred["client_id"], "deleted": True,
                                   "files_deleted": 1, "uploads_aborted": 0})
        harness.wait_for(lambda: download(done["DownloadUrl"]).status_code == 404,
                         timeout=REVOKED_WITHIN, interval=0.2, what="the file's bytes gone")
        wait_refused(self.api, user)
        assert_api_error(self.api.partner_token_response(cred["client_id"], cred["secret_key"]),
                         401, "invalid_client")
        listed = partner_command(self.server, "list")
        self.assertNotIn(cred["client_id"], [p["client_id"] for p in listed])
        code, _, err = run_partner(self.server, "show", cred["client_id"])
        self.assertEqual(code, 1)
        self.assertIn(cred["client_id"], err)

    def test_a_partner_without_files_is_deleted_without_with_files(self):
        cred = create_partner(self.server)
        deleted = partner_command(self.server, "delete", cred["client_id"])
        self.assertEqual(deleted["files_deleted"], 0)

    def test_an_unknown_client_id_exits_1_and_says_which(self):
        for command in ("show", "disable", "enable", "rotate-secret", "revoke-tokens", "delete"):
            code, out, err = run_partner(self.server, command, "pc_nobody")
            self.assertEqual(code, 1, f"{command}: {err}")
            self.assertEqual(out, "", command)
            self.assertIn("pc_nobody", err, command)

    def test_a_missing_client_id_is_a_usage_error(self):
        for command in ("show", "disable", "enable", "rotate-secret", "revoke-tokens", "delete"):
            code, _, err = run_partner(self.server, command)
            self.assertEqual(code, 2, f"{command}: {err}")
            self.assertIn("client_id", err, command)


class Help(unittest.TestCase):
    def help_of(self, *command):
        proc = subprocess.run([harness.server_binary(), *command, "--help"], capture_output=True,
                              text=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        return proc.stdout

    def test_every_partner_subcommand_lists_its_options(self):
        everything = set(OPTION_LINE.findall(self.help_of()))
        own = {"create": {"--name"}, "list": set(), "show": set(), "disable": set(),
               "enable": set(), "rotate-secret": set(), "revoke-tokens": set(),
               "delete": {"--with-files"}}
        partner_help = self.help_of("partner")
        for command, options in own.items():
            self.assertIn(command, partner_help)
            text = self.help_of("partner", command)
            self.assertEqual(set(OPTION_LINE.findall(text)), everything | options, command)
            if command not in ("create", "list"):
                self.assertIn("client_id", text, command)


if __name__ == "__main__":
    harness.main()
