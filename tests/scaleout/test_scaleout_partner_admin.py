"""Partner administration across two replicas on PostgreSQL and Ceph RGW: disabling a
partner from the command line (run on neither replica's process: only the shared
database tells them) refuses its tokens on both within seconds and its token requests
with partner_disabled; `delete --with-files` removes its files' objects from S3."""

import scaleout_harness as sh  # first: it puts the integration harness on sys.path
import harness  # noqa: E402
from harness import assert_api_error, create_partner, download, partner_command, random_bytes
from scaleout_harness import setUpModule, tearDownModule  # noqa: F401  (run by unittest)

WITHIN_SECONDS = 10


class PartnerAdminOnTwoReplicas(sh.ReplicaPairTestCase):
    replica_args = ("--sweep-interval", "1")  # deleted files' objects go at the next sweep

    def test_disabling_on_one_replicas_command_line_refuses_tokens_on_the_other(self):
        cred = create_partner(self.a)
        tokens = self.api_a.partner_tokens(cred)
        user = self.api_a.user_token(tokens["access_token"])
        for api in (self.api_a, self.api_b):
            self.assertEqual(api.get_file(user, "file_missing").status_code, 404)

        shown = partner_command(self.a, "disable", cred["client_id"])
        self.assertEqual(shown["status"], "disabled")
        for api in (self.api_b, self.api_a):
            harness.wait_for(lambda api=api: api.get_file(user, "file_missing").status_code == 401,
                             timeout=WITHIN_SECONDS, interval=0.1,
                             what="the disabled partner's user token refused")
            assert_api_error(api.get_file(user, "file_missing"), 401, "token_revoked")
            assert_api_error(api.partner_token_response(cred["client_id"], cred["secret_key"]),
                             401, "partner_disabled")
        assert_api_error(self.api_b.refresh_response(tokens["refresh_token"]), 401,
                         "invalid_refresh_token")

        partner_command(self.b, "enable", cred["client_id"])
        fresh = self.api_b.new_user(cred)
        self.assertEqual(self.api_a.get_file(fresh, "file_missing").status_code, 404)
        assert_api_error(self.api_b.get_file(user, "file_missing"), 401, "token_revoked")

    def test_delete_with_files_removes_the_objects_from_s3(self):
        cred = create_partner(self.a)
        user = self.api_a.new_user(cred)
        plan, done = self.api_a.upload_file(user, random_bytes(1000))
        key = sh.object_key(plan)
        self.assertTrue(sh.backends.object_exists(key))
        open_plan = self.api_b.start_upload(user, 6 * 1024 * 1024)
        self.assertIn(sh.s3_upload_id(open_plan), sh.backends.open_multipart_upload_ids())

        deleted = partner_command(self.b, "delete", cred["client_id"], "--with-files")
        self.assertEqual(deleted, {"client_id": cred["client_id"], "deleted": True,
                                   "files_deleted": 1, "uploads_aborted": 1})
        harness.wait_for(lambda: not sh.backends.object_exists(key), timeout=WITHIN_SECONDS,
                         interval=0.2, what="the deleted file's object gone from S3")
        harness.wait_for(lambda: sh.s3_upload_id(open_plan)
                         not in sh.backends.open_multipart_upload_ids(),
                         timeout=WITHIN_SECONDS, interval=0.2,
                         what="the open upload's multipart upload aborted")
        self.assertEqual(download(done["DownloadUrl"]).status_code, 404)
        for api in (self.api_a, self.api_b):
            harness.wait_for(lambda api=api: api.get_file(user, "file_missing").status_code == 401,
                             timeout=WITHIN_SECONDS, interval=0.1,
                             what="the deleted partner's user token refused")


if __name__ == "__main__":
    harness.main()
