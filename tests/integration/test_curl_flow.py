"""The whole Plaud flow done with the `curl` command line, the way Plaud's docs show it:
tokens, generate, `curl -X PUT --data-binary @part URL -D headers`, complete, download."""

import json
import os
import subprocess
import tempfile

import harness
from harness import CHUNK_SIZE, MiB, md5_hex

CURL = "/usr/bin/curl"


def curl(*args, timeout=60):
    """Runs curl, loopback only; returns (HTTP status, stdout bytes)."""
    cmd = [CURL, "--silent", "--show-error", "--noproxy", "*", "--max-time", "30",
           "--write-out", "\n%{http_code}", *args]
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"curl failed ({proc.returncode}): {proc.stderr.decode()}: {cmd}")
    body, _, status = proc.stdout.rpartition(b"\n")
    return int(status), body


def header_value(path, name):
    """The last value of header `name` in a `curl -D` dump (last response wins)."""
    value = None
    with open(path, "rb") as f:
        for line in f.read().decode("latin-1").split("\r\n"):
            k, sep, v = line.partition(":")
            if sep and k.strip().lower() == name.lower():
                value = v.strip()
    return value


class CurlFlow(harness.ServerTestCase):
    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="audiodrop-curl-", dir=self.server.root)

    def path(self, name):
        return os.path.join(self.tmp, name)

    def curl_json(self, *args):
        status, body = curl(*args)
        self.assertLess(status, 500, body)
        return status, (json.loads(body) if body.strip() else None)

    def test_plaud_flow_with_curl(self):
        api = self.server.api_url
        # Authentication API
        status, tokens = self.curl_json(
            "-X", "POST", f"{api}/oauth/partner/access-token",
            "-u", f"{self.partner['client_id']}:{self.partner['secret_key']}")
        self.assertEqual(status, 200, tokens)
        self.assertEqual(tokens["token_type"], "bearer")
        status, user = self.curl_json(
            "-X", "POST", f"{api}/open/partner/users/access-token",
            "-H", "Content-Type: application/json",
            "-H", f"Authorization: Bearer {tokens['access_token']}",
            "-d", json.dumps({"user_id": "curl-user-0001", "expires_in": 3600}))
        self.assertEqual(status, 200, user)
        self.assertEqual(user["expires_in"], 3600)
        token = user["access_token"]

        # Step 1: generate presigned URLs
        data = harness.random_bytes(2 * CHUNK_SIZE + MiB + 17)
        status, plan = self.curl_json(
            "-X", "POST", f"{api}/open/partner/files/upload/generate-presigned-urls",
            "-H", "Content-Type: application/json",
            "-H", f"Authorization: Bearer {token}",
            "-d", json.dumps({"filesize": len(data), "filetype": "m4a"}))
        self.assertEqual(status, 200, plan)
        self.assertEqual(plan["ChunkSize"], CHUNK_SIZE)
        self.assertEqual(len(plan["Parts"]), 3)

        # Step 2: PUT each chunk's raw bytes, keep the ETag response header
        part_list = []
        for part, body in zip(plan["Parts"], harness.split_parts(data, plan["ChunkSize"])):
            n = part["PartNumber"]
            part_file, head_file = self.path(f"part{n}"), self.path(f"headers{n}")
            with open(part_file, "wb") as f:
                f.write(body)
            status, _ = curl("-X", "PUT", "--data-binary", f"@{part_file}", part["PresignedUrl"],
                             "-D", head_file, "-o", os.devnull)
            self.assertEqual(status, 200)
            etag = header_value(head_file, "ETag")
            self.assertEqual(etag, f'"{md5_hex(body)}"')
            part_list.append({"PartNumber": n, "ETag": etag})

        # Step 3: complete
        with open(self.path("complete.json"), "w") as f:
            json.dump({"file_id": plan["FileId"], "upload_id": plan["UploadId"],
                       "part_list": part_list, "filetype": "m4a", "file_md5": md5_hex(data)}, f)
        status, done = self.curl_json(
            "-X", "POST", f"{api}/open/partner/files/upload/complete-upload",
            "-H", "Content-Type: application/json",
            "-H", f"Authorization: Bearer {token}",
            "-d", f"@{self.path('complete.json')}")
        self.assertEqual(status, 200, done)
        self.assertEqual(set(done), {"FileId", "FileType", "DownloadUrl", "FileMd5"})
        self.assertEqual(done["FileMd5"], md5_hex(data))
        self.assertEqual(done["FileType"], "m4a")

        # Download whole, and a range as a player seeking would.
        status, _ = curl("-o", self.path("download"), done["DownloadUrl"])
        self.assertEqual(status, 200)
        with open(self.path("download"), "rb") as f:
            self.assertTrue(f.read() == data, "downloaded bytes differ")
        status, _ = curl("-r", "5242000-5243999", "-o", self.path("range"), done["DownloadUrl"])
        self.assertEqual(status, 206)
        with open(self.path("range"), "rb") as f:
            self.assertTrue(f.read() == data[5242000:5244000])

    def test_curl_upload_file_with_expect_100_continue(self):
        # `curl -T` PUTs a file and, for bodies over 1 MiB, asks `Expect: 100-continue`.
        token = self.user()
        data = harness.random_bytes(3 * MiB)
        plan = self.api.start_upload(token, len(data), "wav")
        part_file, head_file = self.path("part"), self.path("headers")
        with open(part_file, "wb") as f:
            f.write(data)
        status, _ = curl("-T", part_file, "-H", "Expect: 100-continue",
                         plan["Parts"][0]["PresignedUrl"], "-D", head_file, "-o", os.devnull)
        self.assertEqual(status, 200)
        etag = header_value(head_file, "ETag")
        self.assertEqual(etag, f'"{md5_hex(data)}"')
        resp = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": 1, "ETag": etag}], "wav")
        self.assertEqual(resp.status_code, 200, resp.text)

    def test_curl_error_answers_are_json_with_a_code(self):
        status, body = self.curl_json(
            "-X", "POST", f"{self.server.api_url}/open/partner/files/upload/generate-presigned-urls",
            "-H", "Content-Type: application/json", "-H", "Authorization: Bearer nope",
            "-d", '{"filesize":10,"filetype":"mp3"}')
        self.assertEqual(status, 401)
        self.assertEqual(body["error"]["code"], "invalid_token")
        self.assertTrue(body["request_id"])


if __name__ == "__main__":
    harness.main()
