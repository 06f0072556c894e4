"""The Plaud File Upload flow end to end with `requests`: generate, PUT parts, complete,
download (whole, ranges, HEAD), retries and the completion rules."""

import math
import urllib.parse
from concurrent.futures import ThreadPoolExecutor

import harness
from harness import CHUNK_SIZE, MiB, md5_hex, quoted


class UploadFlow(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.api.new_user(cls.partner)
        # One 3-part file shared by the download tests.
        cls.big = harness.random_bytes(12 * MiB)
        cls.big_plan, cls.big_done = cls.api.upload_file(cls.token, cls.big, parallel=3)

    def check_plan(self, plan, filesize):
        self.assertEqual(set(plan), {"FileId", "UploadId", "ChunkSize", "Parts"})
        self.assertTrue(plan["FileId"].startswith("file_"), plan["FileId"])
        self.assertTrue(plan["UploadId"].startswith("upload_"), plan["UploadId"])
        self.assertEqual(plan["ChunkSize"], CHUNK_SIZE)
        n = math.ceil(filesize / plan["ChunkSize"])
        self.assertEqual([p["PartNumber"] for p in plan["Parts"]], list(range(1, n + 1)))
        for p in plan["Parts"]:
            self.assertEqual(set(p), {"PartNumber", "PresignedUrl"})
            url = p["PresignedUrl"]
            self.assertTrue(url.startswith(self.server.storage_url + "/"), url)
            q = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(url).query))
            self.assertEqual(q.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256")
            self.assertEqual(q.get("X-Amz-SignedHeaders"), "host")
            self.assertEqual(q.get("partNumber"), str(p["PartNumber"]))
            self.assertTrue(q.get("uploadId"))

    def flow(self, size):
        data = harness.random_bytes(size)
        plan = self.api.start_upload(self.token, size)
        self.check_plan(plan, size)
        etags = harness.put_all_parts(plan, data)  # checks ETag == quoted md5 per part
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(resp.status_code, 200, resp.text)
        done = resp.json()
        self.assertEqual(set(done), {"FileId", "FileType", "DownloadUrl", "FileMd5"})
        self.assertEqual(done["FileId"], plan["FileId"])
        self.assertEqual(done["FileType"], "mp3")
        self.assertEqual(done["FileMd5"], md5_hex(data))
        got = harness.download(done["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertEqual(int(got.headers["Content-Length"]), size)
        self.assertTrue(got.content == data, "downloaded bytes differ")
        return plan, done

    def test_one_byte_file_uploads_and_downloads(self):
        plan, _ = self.flow(1)
        self.assertEqual(len(plan["Parts"]), 1)

    def test_exactly_one_chunk_is_one_part(self):
        plan, _ = self.flow(CHUNK_SIZE)
        self.assertEqual(len(plan["Parts"]), 1)

    def test_one_chunk_plus_one_byte_is_two_parts(self):
        plan, _ = self.flow(CHUNK_SIZE + 1)
        self.assertEqual(len(plan["Parts"]), 2)

    def test_three_part_file_uploaded_in_parallel(self):
        self.assertEqual(len(self.big_plan["Parts"]), 3)
        self.check_plan(self.big_plan, len(self.big))
        self.assertEqual(self.big_done["FileMd5"], md5_hex(self.big))
        got = harness.download(self.big_done["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertTrue(got.content == self.big)

    def test_download_url_is_a_24h_sigv4_presigned_get(self):
        u = urllib.parse.urlsplit(self.big_done["DownloadUrl"])
        self.assertEqual(f"{u.scheme}://{u.netloc}", self.server.storage_url)
        q = dict(urllib.parse.parse_qsl(u.query))
        self.assertEqual(q.get("X-Amz-Expires"), "86400")
        self.assertEqual(q.get("X-Amz-Algorithm"), "AWS4-HMAC-SHA256")
        self.assertEqual(q.get("X-Amz-SignedHeaders"), "host")
        self.assertTrue(q.get("X-Amz-Credential", "").startswith(self.server.access_key + "/"))
        self.assertRegex(q.get("X-Amz-Signature", ""), r"^[0-9a-f]{64}$")

    def ranged(self, spec):
        resp = harness.download(self.big_done["DownloadUrl"], headers={"Range": spec})
        return resp

    def test_range_first_byte(self):
        resp = self.ranged("bytes=0-0")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(resp.headers["Content-Range"], f"bytes 0-0/{len(self.big)}")
        self.assertEqual(resp.content, self.big[0:1])

    def test_range_across_a_part_boundary(self):
        first, last = CHUNK_SIZE - 10, CHUNK_SIZE + 10
        resp = self.ranged(f"bytes={first}-{last}")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(resp.headers["Content-Range"], f"bytes {first}-{last}/{len(self.big)}")
        self.assertEqual(int(resp.headers["Content-Length"]), 21)
        self.assertEqual(resp.content, self.big[first:last + 1])

    def test_range_suffix(self):
        size = len(self.big)
        resp = self.ranged("bytes=-100")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(resp.headers["Content-Range"], f"bytes {size - 100}-{size - 1}/{size}")
        self.assertEqual(resp.content, self.big[-100:])

    def test_range_open_ended(self):
        size = len(self.big)
        first = 2 * CHUNK_SIZE - 7
        resp = self.ranged(f"bytes={first}-")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(resp.headers["Content-Range"], f"bytes {first}-{size - 1}/{size}")
        self.assertTrue(resp.content == self.big[first:])

    def test_range_ending_past_the_end_is_clamped(self):
        size = len(self.big)
        resp = self.ranged(f"bytes={size - 10}-{size + 1000}")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(resp.headers["Content-Range"], f"bytes {size - 10}-{size - 1}/{size}")
        self.assertEqual(resp.content, self.big[-10:])

    def test_ranges_s3_ignores_get_the_whole_object(self):
        # As S3: a malformed or multi-range header is ignored, not an error.
        for spec in ("bytes=5-2", "bytes=abc", "bytes=0-0,2-3", "items=0-1"):
            with self.subTest(range=spec):
                resp = self.ranged(spec)
                self.assertEqual(resp.status_code, 200)
                self.assertNotIn("Content-Range", resp.headers)
                self.assertEqual(len(resp.content), len(self.big))
        resp = self.ranged(f"bytes=-{len(self.big) + 5}")
        self.assertEqual(resp.status_code, 206)
        self.assertEqual(len(resp.content), len(self.big))

    def test_range_past_the_end_is_416_invalid_range(self):
        resp = self.ranged(f"bytes={len(self.big)}-")
        harness.assert_s3_error(resp, 416, "InvalidRange")

    def test_head_gives_length_and_the_get_etag(self):
        head = harness.download(self.big_done["DownloadUrl"], method="HEAD")
        self.assertEqual(head.status_code, 200)
        self.assertEqual(int(head.headers["Content-Length"]), len(self.big))
        self.assertTrue(head.headers.get("ETag"))
        self.assertEqual(head.content, b"")
        get = harness.download(self.big_done["DownloadUrl"])
        self.assertEqual(get.headers.get("ETag"), head.headers["ETag"])

    def test_complete_retry_answers_the_same_with_a_working_url(self):
        data = harness.random_bytes(CHUNK_SIZE + 100)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)
        first = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                  harness.part_list(etags))
        again = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                  harness.part_list(etags))
        self.assertEqual(first.status_code, 200, first.text)
        self.assertEqual(again.status_code, 200, again.text)
        a, b = first.json(), again.json()
        for field in ("FileId", "FileType", "FileMd5"):
            self.assertEqual(a[field], b[field])
        self.assertEqual(b["FileMd5"], md5_hex(data))
        got = harness.download(b["DownloadUrl"])
        self.assertTrue(got.status_code == 200 and got.content == data)
        # A different part list on a completed upload is a conflict.
        other = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                  harness.part_list({1: etags[1]}))
        harness.assert_api_error(other, 409, "upload_completed")

    def test_part_urls_are_dead_once_completed_and_the_file_cannot_change(self):
        data = harness.random_bytes(CHUNK_SIZE + 10)
        plan, done = self.api.upload_file(self.token, data)
        for part, body in ((1, harness.random_bytes(CHUNK_SIZE)), (2, b"X" * 10)):
            resp = harness.put_part(plan["Parts"][part - 1]["PresignedUrl"], body)
            harness.assert_s3_error(resp, 404, "NoSuchUpload")
        self.assertTrue(harness.download(done["DownloadUrl"]).content == data)
        info = self.api.get_file(self.token, plan["FileId"]).json()
        self.assertEqual(info["FileMd5"], md5_hex(data))

    def test_wrong_file_md5_is_refused_and_the_upload_stays_completable(self):
        data = harness.random_bytes(3000)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)
        bad = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                harness.part_list(etags), "mp3", md5_hex(b"something else"))
        harness.assert_api_error(bad, 400, "md5_mismatch")
        good = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data).upper())
        self.assertEqual(good.status_code, 200, good.text)
        self.assertEqual(good.json()["FileMd5"], md5_hex(data))

    def test_md5_mismatch_then_reupload_of_a_part_then_complete(self):
        data = harness.random_bytes(CHUNK_SIZE + 5)
        plan = self.api.start_upload(self.token, len(data))
        wrong = bytearray(data)
        wrong[-1] ^= 0xFF
        etags = harness.put_all_parts(plan, bytes(wrong))
        bad = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                harness.part_list(etags), "mp3", md5_hex(data))
        harness.assert_api_error(bad, 400, "md5_mismatch")
        etags.update(harness.put_all_parts(plan, data, only=[2]))
        good = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(good.status_code, 200, good.text)
        self.assertTrue(harness.download(good.json()["DownloadUrl"]).content == data)

    def test_overwritten_part_keeps_only_the_latest_bytes(self):
        data = harness.random_bytes(2000)
        plan = self.api.start_upload(self.token, len(data))
        old = harness.put_all_parts(plan, harness.random_bytes(2000))
        new = harness.put_all_parts(plan, data)
        stale = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                  harness.part_list(old))
        harness.assert_api_error(stale, 400, "invalid_part")
        good = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(new))
        self.assertEqual(good.status_code, 200, good.text)
        self.assertTrue(harness.download(good.json()["DownloadUrl"]).content == data)

    def test_etags_without_quotes_and_in_uppercase_are_accepted(self):
        data = harness.random_bytes(CHUNK_SIZE + 3)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)
        plain = {1: etags[1].strip('"').upper(), 2: etags[2].upper()}
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(plain))
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json()["FileMd5"], md5_hex(data))

    def test_filetype_is_case_insensitive(self):
        data = harness.random_bytes(10)
        plan = self.api.start_upload(self.token, len(data), "MP3")
        etags = harness.put_all_parts(plan, data)
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "Mp3")
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json()["FileType"].lower(), "mp3")
        for filetype in ("m4a", "wav", "opus", "ogg", "aac", "flac", "amr", "webm", "WAV"):
            self.assertEqual(self.api.generate(self.token, 10, filetype).status_code, 200,
                             filetype)

    def test_concurrent_completes_of_one_upload_agree(self):
        data = harness.random_bytes(CHUNK_SIZE + 4096)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)

        answers = harness.race(self.server, [
            lambda api: api.complete(self.token, plan["FileId"], plan["UploadId"],
                                     harness.part_list(etags), "mp3", md5_hex(data))] * 8)
        for resp in answers:
            self.assertEqual(resp.status_code, 200, resp.text)
            self.assertEqual(resp.json()["FileMd5"], md5_hex(data))
            self.assertEqual(resp.json()["FileId"], plan["FileId"])
        self.assertTrue(harness.download(answers[-1].json()["DownloadUrl"]).content == data)

    def test_complete_racing_a_part_overwrite_never_mixes_bytes(self):
        for _ in range(3):
            old = harness.random_bytes(2 * CHUNK_SIZE + 100)
            new_part = harness.random_bytes(CHUNK_SIZE)
            plan = self.api.start_upload(self.token, len(old))
            etags = harness.put_all_parts(plan, old)
            url = plan["Parts"][1]["PresignedUrl"]

            def overwrite(_):
                with harness.http_session() as http:
                    return harness.no_5xx(http.put(url, data=new_part, timeout=harness.TIMEOUT))

            done, put = harness.race(self.server, [
                lambda api: api.complete(self.token, plan["FileId"], plan["UploadId"],
                                         harness.part_list(etags)),
                overwrite])
            if done.status_code == 200:
                # The part list named the old bytes: the file is exactly those.
                got = harness.download(done.json()["DownloadUrl"]).content
                self.assertEqual(done.json()["FileMd5"], md5_hex(old))
                self.assertTrue(got == old, "completed file mixes old and new bytes")
            else:
                # The overwrite landed first, so the old ETag no longer matches.
                harness.assert_api_error(done, 400, "invalid_part")
                self.assertEqual(put.status_code, 200)

    def test_racing_puts_of_one_part_leave_one_whole_part(self):
        size = 2 * MiB
        plan = self.api.start_upload(self.token, size)
        url = plan["Parts"][0]["PresignedUrl"]
        bodies = [harness.random_bytes(size) for _ in range(4)]

        def put(body):
            with harness.http_session() as http:
                resp = harness.no_5xx(http.put(url, data=body, timeout=harness.TIMEOUT))
            self.assertEqual(resp.status_code, 200, resp.text)
            return resp.headers["ETag"]

        with ThreadPoolExecutor(max_workers=4) as pool:
            list(pool.map(put, bodies))
        listed = self.api.parts(self.token, plan["FileId"], plan["UploadId"]).json()["Parts"]
        self.assertEqual(len(listed), 1)
        by_etag = {quoted(md5_hex(b)): b for b in bodies}
        self.assertIn(listed[0]["ETag"], by_etag, "the stored part is none of the bodies sent")
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": 1, "ETag": listed[0]["ETag"]}])
        self.assertEqual(resp.status_code, 200, resp.text)
        got = harness.download(resp.json()["DownloadUrl"]).content
        self.assertTrue(got == by_etag[listed[0]["ETag"]], "bytes mixed from racing PUTs")

    def test_parallel_users_each_get_their_own_bytes(self):
        users = [self.api.new_user(self.partner) for _ in range(6)]

        def one(token):
            api = harness.Api(self.server)
            try:
                data = harness.random_bytes(CHUNK_SIZE + 1 + len(token) % 1000)
                _, done = api.upload_file(token, data)
                return data, done
            finally:
                api.close()

        with ThreadPoolExecutor(max_workers=6) as pool:
            results = list(pool.map(one, users))
        self.assertEqual(len({done["FileId"] for _, done in results}), len(users))
        for data, done in results:
            self.assertEqual(done["FileMd5"], md5_hex(data))
            self.assertTrue(harness.download(done["DownloadUrl"]).content == data)


PUBLIC_STORAGE_HOST = "storage.example.test:8443"


class PublicStorageUrl(harness.ServerTestCase):
    """Behind a proxy the presigned URLs name the public host, and the signature covers it."""

    # The proxy's port, not ours: the server listens elsewhere.
    server_args = ("--storage-public-url", f"http://{PUBLIC_STORAGE_HOST}/")

    def test_presigned_urls_use_the_public_storage_url(self):
        token = self.user()
        data = harness.random_bytes(1000)
        plan = self.api.start_upload(token, len(data))
        public = f"http://{PUBLIC_STORAGE_HOST}"
        url = plan["Parts"][0]["PresignedUrl"]
        self.assertTrue(url.startswith(public + "/"), url)
        # What the proxy would forward: same path and query, Host of the public URL.
        local = self.server.storage_url + url[len(public):]
        host = {"Host": PUBLIC_STORAGE_HOST}
        resp = harness.put_part(local, data, headers=host)
        self.assertEqual(resp.status_code, 200, resp.text)
        wrong_host = harness.put_part(local, data)
        harness.assert_s3_error(wrong_host, 403, "SignatureDoesNotMatch")
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": 1, "ETag": resp.headers["ETag"]}])
        self.assertEqual(done.status_code, 200, done.text)
        download = done.json()["DownloadUrl"]
        self.assertTrue(download.startswith(public + "/"), download)
        got = harness.download(self.server.storage_url + download[len(public):], headers=host)
        self.assertTrue(got.status_code == 200 and got.content == data)


if __name__ == "__main__":
    harness.main()
