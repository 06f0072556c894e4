"""The remote-S3 object store against a real S3 server (Ceph RGW) that checks every
signature itself: presigned URLs it refuses, expiry swept on S3, a store that goes
down, an MD5 mismatch, and start-up refusals of a misconfigured replica."""

import math
import subprocess
import time
import unittest
import urllib.parse

import scaleout_harness as sh
import harness  # noqa: E402
from harness import (CHUNK_SIZE, GiB, MiB, Api, assert_api_error, assert_s3_error,
                     create_partner, download, md5_hex, part_list, put_all_parts, put_part,
                     random_bytes, refused_ports, server_binary, wait_for, wait_until_expired)

from scaleout_harness import setUpModule, tearDownModule  # noqa: F401  (run by unittest)


def with_query(url, **changes):
    u = urllib.parse.urlsplit(url)
    query = urllib.parse.parse_qsl(u.query, keep_blank_values=True)
    query = [(k, changes.get(k, v)) for k, v in query]
    return urllib.parse.urlunsplit(u._replace(query=urllib.parse.urlencode(query)))


class PresignedUrlsOnS3(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.server = sh.backends.replica().start()
        cls.api = Api(cls.server)
        cls.cred = create_partner(cls.server)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.stop()
        cls.server.cleanup()

    def test_s3_refuses_a_tampered_part_url(self):
        token = self.api.new_user(self.cred)
        plan = self.api.start_upload(token, 1000)
        url = plan["Parts"][0]["PresignedUrl"]
        sig = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
        flipped = ("0" if sig[0] != "0" else "1") + sig[1:]
        assert_s3_error(put_part(with_query(url, **{"X-Amz-Signature": flipped}), b"x" * 1000),
                        403, "SignatureDoesNotMatch")
        # Another part number under the same signature is another request.
        assert_s3_error(put_part(with_query(url, partNumber="2"), b"x" * 1000), 403,
                        "SignatureDoesNotMatch")
        self.assertEqual(put_part(url, b"x" * 1000).status_code, 200)

    def test_s3_refuses_an_expired_part_url(self):
        with sh.backends.replica("--upload-ttl", "2") as short:
            token = Api(short).new_user(self.cred)
            plan = Api(short).start_upload(token, 1000)
            url = plan["Parts"][0]["PresignedUrl"]
            wait_until_expired(url)
            assert_s3_error(put_part(url, b"x" * 1000), 403, "AccessDenied")

    def test_s3_refuses_urls_signed_with_the_wrong_secret(self):
        # A replica with a wrong secret does not start (see Misconfiguration), so forge the
        # credential of a URL instead: S3 must not know the access key.
        token = self.api.new_user(self.cred)
        plan = self.api.start_upload(token, 1000)
        url = plan["Parts"][0]["PresignedUrl"]
        cred = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Credential"][0]
        forged = with_query(url, **{"X-Amz-Credential": "AKIAUNKNOWNUNKNOWN00" +
                                    cred[cred.index("/"):]})
        assert_s3_error(put_part(forged, b"x" * 1000), 403, "InvalidAccessKeyId")

    def test_download_url_is_a_presigned_get_on_s3(self):
        token = self.api.new_user(self.cred)
        data = random_bytes(3000)
        _, done = self.api.upload_file(token, data)
        self.assertTrue(done["DownloadUrl"].startswith(sh.backends.rgw.endpoint + "/"))
        self.assertEqual(download(done["DownloadUrl"]).content, data)
        # A download URL cannot be turned into an upload.
        assert_s3_error(put_part(done["DownloadUrl"], b"evil"), 403, "SignatureDoesNotMatch")

    def test_chunk_size_grows_in_whole_mib_to_stay_within_10000_parts(self):
        # On S3 no local disk has to hold the declared size, so the large plans do not
        # depend on the free space of the machine the tests run on.
        exact = 10000 * CHUNK_SIZE
        with sh.backends.replica("--max-file-size", str(100 * GiB)) as large:
            api = Api(large)
            token = api.new_user(self.cred)
            for size in (exact, exact + 1, 60 * GiB):
                with self.subTest(filesize=size):
                    plan = api.start_upload(token, size)
                    chunk = plan["ChunkSize"]
                    self.assertEqual(chunk, harness.expected_chunk_size(size))
                    self.assertEqual(chunk % MiB, 0)
                    self.assertEqual(len(plan["Parts"]), math.ceil(size / chunk))
                    self.assertLessEqual(len(plan["Parts"]), 10000)
                    self.assertEqual(plan["Parts"][-1]["PartNumber"], len(plan["Parts"]))
                    api.abort(token, plan["FileId"], plan["UploadId"])
            api.close()
        self.assertEqual(harness.expected_chunk_size(60 * GiB), 7 * MiB)

    def test_md5_mismatch_discards_the_upload(self):
        token = self.api.new_user(self.cred)
        data = random_bytes(5 * MiB + 9)
        plan = self.api.start_upload(token, len(data))
        etags = put_all_parts(plan, data)
        resp = self.api.complete(token, plan["FileId"], plan["UploadId"], part_list(etags),
                                 file_md5="0" * 32)
        body = assert_api_error(resp, 400, "md5_mismatch")
        self.assertIn(md5_hex(data), body["error"]["message"])
        self.assertIn("start a new upload", body["error"]["message"])
        again = self.api.complete(token, plan["FileId"], plan["UploadId"], part_list(etags))
        assert_api_error(again, 409, "upload_aborted")
        self.assertFalse(sh.backends.object_exists(sh.object_key(plan)))

    def test_a_part_too_small_is_refused_at_complete(self):
        token = self.api.new_user(self.cred)
        data = random_bytes(5 * MiB + 100)
        plan = self.api.start_upload(token, len(data))
        etags = put_all_parts(plan, data, only=[2])
        short = put_part(plan["Parts"][0]["PresignedUrl"], data[:1000])
        self.assertEqual(short.status_code, 200)
        etags[1] = short.headers["ETag"]
        resp = self.api.complete(token, plan["FileId"], plan["UploadId"], part_list(etags))
        assert_api_error(resp, 400, "invalid_part_size")


class ExpiryOnS3(unittest.TestCase):
    def test_the_sweep_aborts_expired_uploads_on_s3(self):
        with sh.backends.replica("--upload-ttl", "2", "--sweep-interval", "1") as server:
            api = Api(server)
            cred = create_partner(server)
            token = api.new_user(cred)
            plan = api.start_upload(token, 5 * MiB + 1)
            put_all_parts(plan, random_bytes(5 * MiB + 1), only=[1])
            mpu = sh.s3_upload_id(plan)
            self.assertIn(mpu, sh.backends.open_multipart_upload_ids())
            wait_for(lambda: mpu not in sh.backends.open_multipart_upload_ids(), timeout=30,
                     interval=0.5, what="the sweep to abort the expired upload on S3")
            self.assertEqual(api.get_file(token, plan["FileId"]).json()["Status"], "expired")


class StoreOutages(unittest.TestCase):
    def test_s3_down_answers_503_quickly_and_recovers(self):
        proxy = sh.TcpProxy(int(sh.backends.rgw.endpoint.rsplit(":", 1)[1])).start()
        try:
            with sh.backends.replica(s3_endpoint=proxy.endpoint) as server:
                api = Api(server)
                cred = create_partner(server)
                token = api.new_user(cred)
                plan = api.start_upload(token, 1000)
                etags = put_all_parts(plan, b"y" * 1000)
                proxy.stop()
                started = time.monotonic()
                resp = _raw_complete(api, token, plan, etags)
                elapsed = time.monotonic() - started
                self.assertEqual(resp.status_code, 503, resp.text)
                self.assertEqual(resp.json()["error"]["code"], "storage_unavailable")
                # What failed stays in the server's log; the client is told to retry.
                self.assertIn("unavailable; retry", resp.json()["error"]["message"])
                self.assertLess(elapsed, 20, "a store that is down must not hang a request")
                self.assertEqual(api.http.get(server.base_url + "/readyz", timeout=30).status_code,
                                 503)
                proxy.start()
                resp = _raw_complete(api, token, plan, etags)
                self.assertEqual(resp.status_code, 200, resp.text)
                self.assertEqual(resp.json()["FileMd5"], md5_hex(b"y" * 1000))
        finally:
            proxy.close()

    def test_s3_throttling_is_retried(self):
        # Each throttled connection costs one attempt; S3Client makes 4 per call, so
        # the first calls need their retries to succeed at all.
        proxy = sh.TcpProxy(int(sh.backends.rgw.endpoint.rsplit(":", 1)[1]),
                            throttle_first=3).start()
        try:
            with sh.backends.replica(s3_endpoint=proxy.endpoint) as server:
                self.assertEqual(proxy.throttled, 3)  # all spent on the start-up check
                api = Api(server)
                token = api.new_user(create_partner(server))
                proxy.throttle(2)
                plan = api.start_upload(token, 1000)  # CreateMultipartUpload, retried
                etags = put_all_parts(plan, b"z" * 1000)
                proxy.throttle(2)
                resp = _raw_complete(api, token, plan, etags)
                self.assertEqual(resp.status_code, 200, resp.text)
                self.assertEqual(proxy.throttled, 7)
                api.close()
        finally:
            proxy.close()

    def test_postgres_down_answers_503_and_recovers(self):
        proxy = sh.TcpProxy(sh.backends.postgres.port).start()
        try:
            with sh.backends.replica(database_port=proxy.port) as server:
                api = Api(server)
                cred = create_partner(server)
                token = api.new_user(cred)
                proxy.stop()
                resp = _raw_generate(api, token)
                self.assertEqual(resp.status_code, 503, resp.text)
                self.assertEqual(resp.json()["error"]["code"], "metadata_unavailable")
                self.assertNotIn(sh.backends.postgres.password, resp.text)
                proxy.start()
                # Broken connections are replaced: the replica heals without a restart.
                wait_for(lambda: _raw_generate(api, token).status_code == 200, timeout=30,
                         interval=0.5, what="generate to succeed once the database is back")
        finally:
            proxy.close()


class RequestIdsOnS3(unittest.TestCase):
    """The S3 calls made for an API request carry its id as X-Request-Id, unsigned, and
    RGW does the work all the same; a recording proxy between the replica and RGW sees
    every request head."""

    def test_s3_calls_carry_the_id_of_the_request_they_serve(self):
        proxy = sh.TcpProxy(int(sh.backends.rgw.endpoint.rsplit(":", 1)[1]),
                            record_requests=True).start()
        try:
            with sh.backends.replica(s3_endpoint=proxy.endpoint) as server:
                api = Api(server)
                token = api.new_user(create_partner(server))
                generated = api.request(
                    "POST", "/open/partner/files/upload/generate-presigned-urls", token=token,
                    json_body={"filesize": 1000, "filetype": "mp3"},
                    headers={"X-Request-Id": "s3-generate-1"})
                self.assertEqual(generated.status_code, 200, generated.text)
                plan = generated.json()
                etags = put_all_parts(plan, b"r" * 1000)
                done = api.request(
                    "POST", "/open/partner/files/upload/complete-upload", token=token,
                    json_body={"file_id": plan["FileId"], "upload_id": plan["UploadId"],
                               "part_list": part_list(etags), "filetype": "mp3"},
                    headers={"X-Request-Id": "s3-complete-1"})
                self.assertEqual(done.status_code, 200, done.text)
                self.assertEqual(download(done.json()["DownloadUrl"]).content, b"r" * 1000)
                api.close()
        finally:
            proxy.close()

        ours = [r for r in proxy.requests
                if r["headers"].get("user-agent") == "audiodrop-server"]
        by_id = {}
        for r in ours:
            by_id.setdefault(r["headers"].get("x-request-id"), []).append(
                (r["method"], r["target"].split("?")[1] if "?" in r["target"] else ""))
        # CreateMultipartUpload for the generate; CompleteMultipartUpload among the
        # complete's calls; the start-up check, which no request asked for, carries none.
        self.assertTrue(any(m == "POST" and q.startswith("uploads")
                            for m, q in by_id.get("s3-generate-1", [])), by_id)
        self.assertTrue(any(m == "POST" and "uploadId=" in q
                            for m, q in by_id.get("s3-complete-1", [])), by_id)
        self.assertIn(None, by_id, "the start-up check went through the proxy too")
        # Any other is the harness's own requests' (readiness polls).
        others = set(by_id) - {None, "s3-generate-1", "s3-complete-1"}
        self.assertTrue(all(i.startswith("req_") for i in others), by_id)
        for r in ours:
            signed = r["headers"]["authorization"].partition("SignedHeaders=")[2]
            self.assertNotIn("x-request-id", signed.split(",")[0].split(";"), r)


class Misconfiguration(unittest.TestCase):
    def start_fails(self, message, **kwargs):
        server = sh.backends.replica(**kwargs)
        try:
            proc = subprocess.run(server.command(), env=server.env(), capture_output=True,
                                  timeout=60, stdin=subprocess.DEVNULL)
        finally:
            server.cleanup()
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertNotEqual(proc.returncode, 0, output)
        self.assertIn(message, output)
        return output

    def test_a_missing_bucket_stops_the_start(self):
        self.start_fails("does not exist", bucket="no-such-bucket")

    def test_a_wrong_secret_key_stops_the_start(self):
        self.start_fails("check the S3 access key and secret key", s3_secret_key="wrong" * 8)

    def test_an_unreachable_store_stops_the_start(self):
        port, = refused_ports(1)
        self.start_fails("did not answer", s3_endpoint=f"http://127.0.0.1:{port}")

    def test_an_unreachable_database_stops_the_start_without_its_password(self):
        server = sh.backends.replica()
        env = server.env()
        port, = refused_ports(1)
        env["AUDIODROP_DATABASE_URL"] = f"postgresql://audiodrop:sekrit-pw@127.0.0.1:{port}/x"
        try:
            proc = subprocess.run(server.command(), env=env, capture_output=True, timeout=60,
                                  stdin=subprocess.DEVNULL)
        finally:
            server.cleanup()
        output = (proc.stdout + proc.stderr).decode(errors="replace")
        self.assertNotEqual(proc.returncode, 0, output)
        self.assertNotIn("sekrit-pw", output)

    def test_a_database_without_a_shared_token_key_is_refused(self):
        server = sh.backends.replica()
        env = server.env()
        del env["AUDIODROP_TOKEN_SIGNING_KEY"]
        try:
            proc = subprocess.run([server_binary()] + server.command()[1:], env=env,
                                  capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        finally:
            server.cleanup()
        self.assertEqual(proc.returncode, 2)
        self.assertIn(b"--token-signing-key", proc.stderr)


def _raw_complete(api, token, plan, etags):
    return api.http.post(api.server.api_url + "/open/partner/files/upload/complete-upload",
                         headers={"Authorization": f"Bearer {token}"}, timeout=60,
                         json={"file_id": plan["FileId"], "upload_id": plan["UploadId"],
                               "part_list": part_list(etags), "filetype": "mp3"})


def _raw_generate(api, token):
    """generate-presigned-urls without the harness's no-5xx check: 503 is expected."""
    return api.http.post(api.server.api_url + "/open/partner/files/upload/generate-presigned-urls",
                         headers={"Authorization": f"Bearer {token}"}, timeout=60,
                         json={"filesize": 1000, "filetype": "mp3"})


if __name__ == "__main__":
    harness.main()
