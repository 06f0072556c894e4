"""No leaks between tenants: another user of the same partner, and a user of another
partner (even one with the same user_id), see 404 for everything of user A's."""

import harness
from harness import CHUNK_SIZE, assert_api_error, md5_hex


class CrossTenant(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.other_partner = harness.create_partner(cls.server)
        cls.a = cls.api.new_user(cls.partner, "shared-user-id")
        cls.strangers = {
            "same partner, other user": cls.api.new_user(cls.partner, "another-user"),
            "other partner, same user_id": cls.api.new_user(cls.other_partner, "shared-user-id"),
            "other partner, other user": cls.api.new_user(cls.other_partner, "someone-else"),
        }

    def refused_everything(self, plan, etags, completed):
        upload_code = "upload_not_found"
        for who, token in self.strangers.items():
            with self.subTest(who=who):
                assert_api_error(self.api.parts(token, plan["FileId"], plan["UploadId"]), 404,
                                 upload_code)
                assert_api_error(self.api.complete(token, plan["FileId"], plan["UploadId"],
                                                   harness.part_list(etags)), 404, upload_code)
                if not completed:
                    assert_api_error(self.api.abort(token, plan["FileId"], plan["UploadId"]),
                                     404, upload_code)
                assert_api_error(self.api.get_file(token, plan["FileId"]), 404, "file_not_found")
                assert_api_error(self.api.delete_file(token, plan["FileId"]), 404,
                                 "file_not_found")

    def test_open_upload_is_invisible_to_others_and_unaffected(self):
        data = harness.random_bytes(CHUNK_SIZE + 500)
        plan = self.api.start_upload(self.a, len(data))
        etags = harness.put_all_parts(plan, data)
        self.refused_everything(plan, etags, completed=False)
        # A's upload is untouched: both parts still listed, it completes, bytes match.
        listed = self.api.parts(self.a, plan["FileId"], plan["UploadId"])
        self.assertEqual(listed.status_code, 200, listed.text)
        self.assertEqual([p["PartNumber"] for p in listed.json()["Parts"]], [1, 2])
        status = self.api.get_file(self.a, plan["FileId"])
        self.assertEqual(status.json()["Status"], "uploading")
        resp = self.api.complete(self.a, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertTrue(harness.download(resp.json()["DownloadUrl"]).content == data)

    def test_completed_file_is_invisible_to_others_and_unaffected(self):
        data = harness.random_bytes(4096)
        plan, done = self.api.upload_file(self.a, data)
        etags = {1: '"' + md5_hex(data) + '"'}
        self.refused_everything(plan, etags, completed=True)
        got = self.api.get_file(self.a, plan["FileId"])
        self.assertEqual(got.status_code, 200, got.text)
        self.assertEqual(got.json()["Status"], "completed")
        self.assertTrue(harness.download(got.json()["DownloadUrl"]).content == data)

    def test_the_404_for_someone_elses_file_matches_the_404_for_no_file(self):
        plan = self.api.start_upload(self.a, 10)
        stranger = self.strangers["other partner, same user_id"]
        theirs = self.api.get_file(stranger, plan["FileId"])
        nobody = self.api.get_file(stranger, "file_doesnotexist")
        self.assertEqual(theirs.status_code, nobody.status_code)
        self.assertEqual(theirs.json()["error"]["code"], nobody.json()["error"]["code"])


if __name__ == "__main__":
    harness.main()
