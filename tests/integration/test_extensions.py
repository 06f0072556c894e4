"""audiodrop's extensions beyond Plaud: parts listing, abort, file status, delete,
expiry of abandoned uploads, and the operations endpoints."""

import json
import os
import shutil
import tempfile
import unittest

import harness
from harness import CHUNK_SIZE, RFC3339_UTC, assert_api_error, assert_s3_error, md5_hex, quoted

FILE_FIELDS = {"FileId", "UploadId", "Status", "FileSize", "FileType", "ChunkSize", "PartCount",
               "CreatedAt", "ExpiresAt"}
COMPLETED_FIELDS = {"CompletedAt", "FileMd5", "DownloadUrl"}


class Extensions(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.api.new_user(cls.partner)

    def test_parts_listing_shows_what_was_received(self):
        data = harness.random_bytes(2 * CHUNK_SIZE + 1000)
        plan = self.api.start_upload(self.token, len(data))
        empty = self.api.parts(self.token, plan["FileId"], plan["UploadId"])
        self.assertEqual(empty.status_code, 200, empty.text)
        self.assertEqual(empty.json()["Parts"], [])
        etags = harness.put_all_parts(plan, data, only=[3, 1])
        resp = self.api.parts(self.token, plan["FileId"], plan["UploadId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        body = resp.json()
        self.assertEqual(set(body), {"FileId", "UploadId", "ChunkSize", "PartCount", "Parts"})
        self.assertEqual(body["FileId"], plan["FileId"])
        self.assertEqual(body["UploadId"], plan["UploadId"])
        self.assertEqual(body["ChunkSize"], CHUNK_SIZE)
        self.assertEqual(body["PartCount"], 3)
        self.assertEqual(body["Parts"], [
            {"PartNumber": 1, "ETag": quoted(md5_hex(data[:CHUNK_SIZE])), "Size": CHUNK_SIZE},
            {"PartNumber": 3, "ETag": quoted(md5_hex(data[2 * CHUNK_SIZE:])), "Size": 1000},
        ])
        self.assertEqual(etags[1], body["Parts"][0]["ETag"])
        # Resume from the listing: upload what is missing, complete with the listing's ETags.
        harness.put_all_parts(plan, data, only=[2])
        listed = self.api.parts(self.token, plan["FileId"], plan["UploadId"]).json()["Parts"]
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]}
                                  for p in listed], "mp3", md5_hex(data))
        self.assertEqual(resp.status_code, 200, resp.text)

    def test_abort_ends_the_upload(self):
        data = harness.random_bytes(CHUNK_SIZE + 10)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data, only=[1])
        resp = self.api.abort(self.token, plan["FileId"], plan["UploadId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json(), {"FileId": plan["FileId"], "UploadId": plan["UploadId"],
                                       "Status": "aborted"})
        etags[2] = quoted(md5_hex(data[CHUNK_SIZE:]))
        assert_api_error(self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                           harness.part_list(etags)), 409, "upload_aborted")
        put = harness.put_part(plan["Parts"][1]["PresignedUrl"], data[CHUNK_SIZE:])
        assert_s3_error(put, 404, "NoSuchUpload")
        status = self.api.get_file(self.token, plan["FileId"])
        self.assertEqual(status.status_code, 200, status.text)
        self.assertEqual(status.json()["Status"], "aborted")
        self.assertFalse(COMPLETED_FIELDS & set(status.json()))

    def test_racing_complete_and_abort_have_one_winner(self):
        data = harness.random_bytes(CHUNK_SIZE + 10)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)

        completed, aborted = harness.race(self.server, [
            lambda api: api.complete(self.token, plan["FileId"], plan["UploadId"],
                                     harness.part_list(etags)),
            lambda api: api.abort(self.token, plan["FileId"], plan["UploadId"])])
        winners = [r for r in (completed, aborted) if r.status_code == 200]
        self.assertEqual(len(winners), 1, (completed.text, aborted.text))
        status = self.api.get_file(self.token, plan["FileId"]).json()["Status"]
        if completed.status_code == 200:
            assert_api_error(aborted, 409, "upload_completed")
            self.assertEqual(status, "completed")
            got = harness.download(completed.json()["DownloadUrl"])
            self.assertTrue(got.content == data)
        else:
            assert_api_error(completed, 409, "upload_aborted")
            self.assertEqual(status, "aborted")

    def test_abort_of_a_completed_upload_is_a_conflict(self):
        plan, _ = self.api.upload_file(self.token, harness.random_bytes(10))
        resp = self.api.abort(self.token, plan["FileId"], plan["UploadId"])
        assert_api_error(resp, 409, "upload_completed")

    def test_file_status_goes_from_uploading_to_completed(self):
        data = harness.random_bytes(CHUNK_SIZE + 33)
        plan = self.api.start_upload(self.token, len(data), "flac")
        resp = self.api.get_file(self.token, plan["FileId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        before = resp.json()
        self.assertEqual(set(before), FILE_FIELDS)
        self.assertEqual(before["FileId"], plan["FileId"])
        self.assertEqual(before["UploadId"], plan["UploadId"])
        self.assertEqual(before["Status"], "uploading")
        self.assertEqual(before["FileSize"], len(data))
        self.assertEqual(before["FileType"], "flac")
        self.assertEqual(before["ChunkSize"], CHUNK_SIZE)
        self.assertEqual(before["PartCount"], 2)
        self.assertRegex(before["CreatedAt"], RFC3339_UTC)
        self.assertRegex(before["ExpiresAt"], RFC3339_UTC)
        self.assertGreater(before["ExpiresAt"], before["CreatedAt"])

        etags = harness.put_all_parts(plan, data)
        done = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "flac")
        self.assertEqual(done.status_code, 200, done.text)
        after = self.api.get_file(self.token, plan["FileId"]).json()
        # Random bytes are no flac: the probe at complete says so (test_audio_facts.py).
        self.assertEqual(set(after), FILE_FIELDS | COMPLETED_FIELDS | {"Audio", "AudioError"})
        self.assertIsNone(after["Audio"])
        self.assertEqual(after["Status"], "completed")
        self.assertEqual(after["FileMd5"], md5_hex(data))
        self.assertRegex(after["CompletedAt"], RFC3339_UTC)
        self.assertGreaterEqual(after["CompletedAt"], after["CreatedAt"])
        got = harness.download(after["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertTrue(got.content == data)

    def test_delete_erases_the_file_and_its_bytes(self):
        data = harness.random_bytes(777)
        plan, done = self.api.upload_file(self.token, data)
        resp = self.api.delete_file(self.token, plan["FileId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json(), {"FileId": plan["FileId"], "Deleted": True})
        assert_api_error(self.api.get_file(self.token, plan["FileId"]), 404, "file_not_found")
        assert_s3_error(harness.download(done["DownloadUrl"]), 404, "NoSuchKey")
        assert_api_error(self.api.delete_file(self.token, plan["FileId"]), 404, "file_not_found")

    def test_operations_endpoints(self):
        http = self.api.http
        base = self.server.base_url
        self.assertEqual(http.get(base + "/healthz", timeout=harness.TIMEOUT).status_code, 200)
        self.assertEqual(http.get(base + "/readyz", timeout=harness.TIMEOUT).status_code, 200)
        metrics = http.get(base + "/metrics", timeout=harness.TIMEOUT)
        self.assertEqual(metrics.status_code, 200)
        self.assertTrue(metrics.headers.get("Content-Type", "").startswith("text/plain"),
                        metrics.headers.get("Content-Type"))
        lines = [l for l in metrics.text.splitlines() if l.startswith("audiodrop_")]
        self.assertTrue(lines, metrics.text[:500])
        for line in lines:
            name_and_labels, _, value = line.rpartition(" ")
            float(value)  # every sample line ends in a number


def stored_object_bytes(data_dir):
    """Bytes in the data dir outside the metadata database (parts and objects)."""
    total = 0
    for dirpath, _, files in os.walk(data_dir):
        for name in files:
            if "sqlite" not in name:
                try:
                    total += os.path.getsize(os.path.join(dirpath, name))
                except OSError:
                    pass  # removed while we looked
    return total


class Expiry(harness.ServerTestCase):
    server_args = ("--upload-ttl", "3", "--sweep-interval", "1", "--download-url-ttl", "2")

    def test_abandoned_upload_expires_and_completed_file_does_not(self):
        token = self.user()
        # F: completed well inside its TTL; it must survive the sweep.
        f_data = harness.random_bytes(100)
        f_plan, f_done = self.api.upload_file(token, f_data)
        self.assertIn("X-Amz-Expires=2&", f_done["DownloadUrl"] + "&")
        # E: one part of two uploaded, then abandoned.
        e_data = harness.random_bytes(CHUNK_SIZE + 10)
        e_plan = self.api.start_upload(token, len(e_data))
        etags = harness.put_all_parts(e_plan, e_data, only=[1])
        etags[2] = quoted(md5_hex(e_data[CHUNK_SIZE:]))

        self.assertGreaterEqual(stored_object_bytes(self.server.data_dir), CHUNK_SIZE)

        # The sweeper (--sweep-interval 1) ends the upload once its TTL (3 s) is past. Its
        # record stays (ended uploads are forgotten after 7 days), so it reads "expired".
        def status():
            resp = self.api.get_file(token, e_plan["FileId"])
            self.assertEqual(resp.status_code, 200, resp.text)
            return resp.json()["Status"]

        harness.wait_for(lambda: status() != "uploading", timeout=20, interval=0.25,
                         what="the abandoned upload to expire")
        self.assertEqual(status(), "expired")
        late = self.api.complete(token, e_plan["FileId"], e_plan["UploadId"],
                                 harness.part_list(etags))
        assert_api_error(late, 410, "upload_expired")

        # The sweep that ended it removes its bytes, and its part URLs take nothing more:
        # those handed out ran out with the upload (their TTL is the upload's), and one
        # signed afresh finds no upload.
        harness.wait_for(lambda: stored_object_bytes(self.server.data_dir) < CHUNK_SIZE,
                         timeout=10, interval=0.25,
                         what="the expired upload's part to be removed")
        url = e_plan["Parts"][1]["PresignedUrl"]
        harness.wait_until_expired(url)
        assert_s3_error(harness.put_part(url, e_data[CHUNK_SIZE:]), 403, "AccessDenied")
        bucket, key, query = harness.split_storage_url(url)
        fresh = harness.s3_client(self.server).generate_presigned_url(
            "upload_part", Params={"Bucket": bucket, "Key": key, "UploadId": query["uploadId"],
                                   "PartNumber": 2}, ExpiresIn=600)
        assert_s3_error(harness.put_part(fresh, e_data[CHUNK_SIZE:]), 404, "NoSuchUpload")

        kept = self.api.get_file(token, f_plan["FileId"])
        self.assertEqual(kept.status_code, 200, kept.text)
        self.assertEqual(kept.json()["Status"], "completed")
        self.assertTrue(harness.download(kept.json()["DownloadUrl"]).content == f_data)
        # The DownloadUrl from complete has run out (--download-url-ttl 2); the fresh one
        # above worked, the old one is refused.
        assert_s3_error(harness.download(f_done["DownloadUrl"]), 403, "AccessDenied")


class OpenUploadLimit(harness.ServerTestCase):
    server_args = ("--max-open-uploads-per-user", "3")

    def test_too_many_open_uploads_is_429_until_one_ends(self):
        token = self.user()
        plans = [self.api.start_upload(token, 10) for _ in range(3)]
        resp = self.api.generate(token, 10)
        assert_api_error(resp, 429, "too_many_open_uploads")
        self.assertTrue(resp.headers.get("Retry-After", "").isdigit(), resp.headers)
        # Another user of the same partner is not limited by this one.
        self.assertEqual(self.api.generate(self.user(), 10).status_code, 200)
        # Ending uploads (abort, complete) frees their slots.
        self.assertEqual(self.api.abort(token, plans[0]["FileId"], plans[0]["UploadId"])
                         .status_code, 200)
        self.assertEqual(self.api.generate(token, 10).status_code, 200)
        data = harness.random_bytes(10)
        etags = harness.put_all_parts(plans[1], data)
        self.assertEqual(self.api.complete(token, plans[1]["FileId"], plans[1]["UploadId"],
                                           harness.part_list(etags)).status_code, 200)
        self.assertEqual(self.api.generate(token, 10).status_code, 200)


    def test_parallel_generates_do_not_exceed_the_open_upload_limit(self):
        token = self.user()
        statuses = sorted(harness.race(self.server, [
            lambda api: api.generate(token, 10).status_code] * 8))
        self.assertEqual(statuses, [200] * 3 + [429] * 5,
                         "the per-user open-upload limit (3) was exceeded under concurrency")


class Configuration(unittest.TestCase):
    """Options come from flags, AUDIODROP_* environment variables or a config file."""

    def run_server(self, *args, **kwargs):
        server = harness.Server(*args, **kwargs)
        server.start()
        self.addCleanup(server.stop)
        api = harness.Api(server)
        self.addCleanup(api.close)
        return server, api, api.new_user(harness.create_partner(server))

    def test_environment_variables_configure_the_server(self):
        server, api, token = self.run_server(env={"AUDIODROP_MAX_FILE_SIZE": "1000",
                                                  "AUDIODROP_ALLOWED_FILETYPES": "mp3,WAV"})
        self.assertEqual(api.generate(token, 1000, "wav").status_code, 200)
        assert_api_error(api.generate(token, 1001), 400, "filesize_too_large")
        assert_api_error(api.generate(token, 10, "m4a"), 400, "unsupported_filetype")

    def test_config_file_configures_the_server(self):
        path = os.path.join(tempfile.mkdtemp(prefix="audiodrop-conf-"), "audiodrop.conf")
        self.addCleanup(shutil.rmtree, os.path.dirname(path), True)
        with open(path, "w") as f:
            f.write("max-file-size = 2000\n")
        server, api, token = self.run_server("--config", path)
        self.assertEqual(api.generate(token, 2000).status_code, 200)
        assert_api_error(api.generate(token, 2001), 400, "filesize_too_large")

    def test_base_path_moves_the_api(self):
        server, api, token = self.run_server(base_path="/v1")
        _, done = api.upload_file(token, harness.random_bytes(100))
        self.assertTrue(done["FileMd5"])
        old = api.http.post(server.base_url + harness.BASE_PATH +
                            "/open/partner/files/upload/generate-presigned-urls",
                            json={"filesize": 10, "filetype": "mp3"},
                            headers={"Authorization": f"Bearer {token}"}, timeout=harness.TIMEOUT)
        assert_api_error(old, 404, "not_found")

    def test_json_logs_are_one_object_per_line(self):
        server, api, token = self.run_server("--log-format", "json")
        api.upload_file(token, harness.random_bytes(100))
        api.generate(token, 0)
        server.stop()
        with open(server.log_path, "rb") as f:
            lines = [l for l in f.read().decode().splitlines()
                     if l.strip() and not l.startswith("=====")]
        self.assertGreater(len(lines), 3)
        for line in lines:
            try:
                obj = json.loads(line)
            except ValueError:
                self.fail(f"log line is not JSON: {line!r}")
            self.assertIsInstance(obj, dict, line)


if __name__ == "__main__":
    harness.main()
