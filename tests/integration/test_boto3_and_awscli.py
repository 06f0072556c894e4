"""The storage endpoint against clients nobody here wrote: URLs presigned by boto3 and by
the AWS CLI with the same keys work, and its errors are S3 XML an SDK understands."""

import os
import subprocess
import urllib.parse

import harness
from harness import CHUNK_SIZE, md5_b64, md5_hex, quoted

AWS = "/usr/bin/aws"


class Boto3AndAwsCli(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.s3 = harness.s3_client(cls.server)
        cls.token = cls.api.new_user(cls.partner)
        # One completed file for the download checks.
        cls.data = harness.random_bytes(CHUNK_SIZE + 4321)
        cls.plan, cls.done = cls.api.upload_file(cls.token, cls.data)
        cls.bucket, cls.key, _ = harness.split_storage_url(cls.done["DownloadUrl"])

    def open_upload(self, size):
        plan = self.api.start_upload(self.token, size)
        bucket, key, query = harness.split_storage_url(plan["Parts"][0]["PresignedUrl"])
        return plan, bucket, key, query["uploadId"]

    def presign_part(self, bucket, key, upload_id, n, expires=600, client=None):
        return (client or self.s3).generate_presigned_url(
            "upload_part", Params={"Bucket": bucket, "Key": key, "UploadId": upload_id,
                                   "PartNumber": n}, ExpiresIn=expires)

    def presign_get(self, key=None, expires=600, client=None):
        return (client or self.s3).generate_presigned_url(
            "get_object", Params={"Bucket": self.bucket, "Key": key or self.key},
            ExpiresIn=expires)

    def test_boto3_presigned_upload_part_is_accepted_and_completes(self):
        data = harness.random_bytes(CHUNK_SIZE + 999)
        plan, bucket, key, upload_id = self.open_upload(len(data))
        bodies = harness.split_parts(data, plan["ChunkSize"])
        etags = {}
        for n, body in enumerate(bodies, start=1):
            resp = harness.put_part(self.presign_part(bucket, key, upload_id, n), body)
            self.assertEqual(resp.status_code, 200, resp.text)
            self.assertEqual(resp.headers["ETag"], quoted(md5_hex(body)))
            etags[n] = resp.headers["ETag"]
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(resp.status_code, 200, resp.text)
        got = harness.download(resp.json()["DownloadUrl"])
        self.assertTrue(got.status_code == 200 and got.content == data)

    def test_boto3_presigned_get_downloads_the_object(self):
        url = self.presign_get()
        got = harness.download(url)
        self.assertEqual(got.status_code, 200, got.content[:300])
        self.assertTrue(got.content == self.data)
        part = harness.download(url, headers={"Range": "bytes=100-199"})
        self.assertEqual(part.status_code, 206)
        self.assertEqual(part.content, self.data[100:200])

    def test_aws_cli_presign_then_curl_fetches_the_bytes(self):
        tmp = os.path.join(self.server.root, "awscli")
        os.makedirs(tmp, exist_ok=True)
        config = os.path.join(tmp, "config")
        with open(config, "w") as f:
            f.write("[default]\ns3 =\n    addressing_style = path\n")
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": tmp,
            "AWS_ACCESS_KEY_ID": self.server.access_key,
            "AWS_SECRET_ACCESS_KEY": self.server.secret_key,
            "AWS_DEFAULT_REGION": harness.STORAGE_REGION,
            "AWS_CONFIG_FILE": config,
            "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_PROXY": "127.0.0.1",
        }
        proc = subprocess.run([AWS, "s3", "presign", f"s3://{self.bucket}/{self.key}",
                               "--endpoint-url", self.server.storage_url,
                               "--region", harness.STORAGE_REGION, "--expires-in", "600"],
                              capture_output=True, timeout=60, env=env,
                              stdin=subprocess.DEVNULL)
        self.assertEqual(proc.returncode, 0, proc.stderr.decode())
        url = proc.stdout.decode().strip()
        self.assertTrue(url.startswith(f"{self.server.storage_url}/{self.bucket}/"), url)
        out = os.path.join(tmp, "download")
        curl = subprocess.run(["/usr/bin/curl", "--silent", "--show-error", "--noproxy", "*",
                               "--max-time", "30", "-o", out, "-w", "%{http_code}", url],
                              capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        self.assertEqual(curl.returncode, 0, curl.stderr.decode())
        self.assertEqual(curl.stdout.decode(), "200")
        with open(out, "rb") as f:
            self.assertTrue(f.read() == self.data, "bytes fetched via the CLI's URL differ")

    # Storage errors ----------------------------------------------------------------
    def test_tampered_signature_is_403_signature_does_not_match(self):
        url = self.done["DownloadUrl"]
        sig = urllib.parse.parse_qs(urllib.parse.urlsplit(url).query)["X-Amz-Signature"][0]
        flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
        resp = harness.download(url.replace(sig, flipped))
        harness.assert_s3_error(resp, 403, "SignatureDoesNotMatch")

    def test_part_url_reused_for_another_part_number_is_refused(self):
        plan, *_ = self.open_upload(CHUNK_SIZE + 1)
        url = plan["Parts"][0]["PresignedUrl"].replace("partNumber=1", "partNumber=2")
        resp = harness.put_part(url, b"x")
        harness.assert_s3_error(resp, 403, "SignatureDoesNotMatch")

    def test_unsigned_request_is_403_access_denied(self):
        bare = self.done["DownloadUrl"].split("?", 1)[0]
        harness.assert_s3_error(harness.download(bare), 403, "AccessDenied")

    def test_expired_presigned_url_is_403_access_denied(self):
        url = self.presign_get(expires=1)
        harness.wait_until_expired(url)
        harness.assert_s3_error(harness.download(url), 403, "AccessDenied")

    def test_unknown_access_key_is_403_invalid_access_key_id(self):
        stranger = harness.s3_client(self.server, "AKIAUNKNOWNKEY000000", "x" * 40)
        harness.assert_s3_error(harness.download(self.presign_get(client=stranger)), 403,
                                "InvalidAccessKeyId")

    def test_wrong_secret_is_403_signature_does_not_match(self):
        wrong = harness.s3_client(self.server, self.server.access_key, "y" * 40)
        harness.assert_s3_error(harness.download(self.presign_get(client=wrong)), 403,
                                "SignatureDoesNotMatch")

    def test_content_md5_is_checked(self):
        plan, bucket, key, upload_id = self.open_upload(100)
        url = plan["Parts"][0]["PresignedUrl"]
        body = harness.random_bytes(100)
        bad = harness.put_part(url, body, headers={"Content-MD5": md5_b64(b"other")})
        harness.assert_s3_error(bad, 400, "BadDigest")
        junk = harness.put_part(url, body, headers={"Content-MD5": "not-base64!"})
        harness.assert_s3_error(junk, 400, "InvalidDigest")
        listed = self.api.parts(self.token, plan["FileId"], plan["UploadId"])
        self.assertEqual(listed.status_code, 200, listed.text)
        self.assertEqual(listed.json()["Parts"], [], "a part refused for its digest was kept")
        good = harness.put_part(url, body, headers={"Content-MD5": md5_b64(body)})
        self.assertEqual(good.status_code, 200, good.text)
        self.assertEqual(good.headers["ETag"], quoted(md5_hex(body)))

    def test_part_larger_than_chunk_size_is_refused_before_the_body(self):
        plan, *_ = self.open_upload(CHUNK_SIZE + 1)
        with harness.RawHttp(plan["Parts"][0]["PresignedUrl"]) as conn:
            conn.send_head("PUT", {"Content-Length": str(plan["ChunkSize"] + 1)})
            # Not a byte of the body is sent: the answer must come from the header alone.
            status, _, body = conn.read_response(timeout=10)
        self.assertEqual(status, 400)
        self.assertEqual(harness.s3_error_code(body), "EntityTooLarge")

    def test_chunked_put_without_content_length_is_411(self):
        plan, *_ = self.open_upload(10)
        with harness.RawHttp(plan["Parts"][0]["PresignedUrl"]) as conn:
            conn.send_head("PUT", {"Transfer-Encoding": "chunked"})
            if not conn.readable_within(2):
                conn.send(b"a\r\n0123456789\r\n0\r\n\r\n")
            status, _, body = conn.read_response(timeout=10)
        self.assertEqual(status, 411)
        self.assertEqual(harness.s3_error_code(body), "MissingContentLength")

    def test_part_url_for_unknown_upload_is_404_no_such_upload(self):
        _, bucket, key, _ = self.open_upload(10)
        url = self.presign_part(bucket, key, "no-such-upload-id", 1)
        harness.assert_s3_error(harness.put_part(url, b"0123456789"), 404, "NoSuchUpload")

    def test_get_of_unknown_key_is_404_no_such_key(self):
        url = self.presign_get(key="no/such/key.mp3")
        harness.assert_s3_error(harness.download(url), 404, "NoSuchKey")

    def test_unknown_bucket_is_404_no_such_bucket(self):
        url = self.s3.generate_presigned_url(
            "get_object", Params={"Bucket": "nosuchbucket", "Key": self.key}, ExpiresIn=600)
        harness.assert_s3_error(harness.download(url), 404, "NoSuchBucket")


if __name__ == "__main__":
    harness.main()
