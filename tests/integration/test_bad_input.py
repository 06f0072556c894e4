"""Malformed and out-of-place requests on every endpoint, table-driven. Each must get
the documented status and error code with a full error body, never a 5xx, and the
server must stay healthy and useful afterwards."""

import json

import harness
from harness import CHUNK_SIZE, MiB, assert_api_error, md5_hex

GENERATE = "/open/partner/files/upload/generate-presigned-urls"
COMPLETE = "/open/partner/files/upload/complete-upload"
PARTS = "/open/partner/files/upload/parts"
ABORT = "/open/partner/files/upload/abort-upload"
USERS = "/open/partner/users/access-token"
TOKEN = "/oauth/partner/access-token"
REFRESH = "/oauth/partner/access-token/refresh"
JSON = {"Content-Type": "application/json"}
MAX_FILE_SIZE = 100 * MiB


class BadInput(harness.ServerTestCase):
    server_args = ("--max-file-size", str(MAX_FILE_SIZE))

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.partner_token = cls.api.partner_tokens(cls.partner)["access_token"]
        cls.token = cls.api.new_user(cls.partner)
        # Upload U: two parts, both uploaded, never completed until the very end.
        cls.data = harness.random_bytes(CHUNK_SIZE + 100)
        cls.u = cls.api.start_upload(cls.token, len(cls.data))
        cls.etags = harness.put_all_parts(cls.u, cls.data)
        # Upload B: another open upload of the same user, to mix ids with.
        cls.b = cls.api.start_upload(cls.token, 10)

    def run_cases(self, cases):
        for name, method, path, kwargs, status, code in cases:
            with self.subTest(case=name):
                kwargs = dict(kwargs)
                kwargs.setdefault("token", self.token)
                resp = self.api.request(method, path, **kwargs)
                assert_api_error(resp, status, code)
                if resp.status_code == 405:
                    self.assertTrue(resp.headers.get("Allow"), "405 without an Allow header")

    def complete_body(self, **changes):
        body = {"file_id": self.u["FileId"], "upload_id": self.u["UploadId"],
                "part_list": harness.part_list(self.etags), "filetype": "mp3"}
        for k, v in changes.items():
            if v is ...:
                body.pop(k)
            else:
                body[k] = v
        return body

    def pl(self, *numbers, etag=None):
        return [{"PartNumber": n, "ETag": etag or self.etags.get(n, '"' + "0" * 32 + '"')}
                for n in numbers]

    def test_generate_rejects_bad_bodies(self):
        def raw(name, body, code):
            return (name, "POST", GENERATE, {"data": body, "headers": JSON}, 400, code)

        def body(name, payload, code):
            return (name, "POST", GENERATE, {"json_body": payload}, 400, code)

        self.run_cases([
            raw("not json", "not json", "invalid_json"),
            raw("empty body", "", "invalid_json"),
            raw("truncated json", '{"filesize": 10, "filetype": "mp3"', "invalid_json"),
            raw("json array", "[1, 2]", "invalid_json"),
            raw("json string", '"mp3"', "invalid_json"),
            raw("json null", "null", "invalid_json"),
            # filesize is checked first; a filesize that is not a positive integer is
            # invalid_filesize, whatever its JSON type.
            body("empty object", {}, "invalid_filesize"),
            body("no filesize", {"filetype": "mp3"}, "invalid_filesize"),
            body("no filetype", {"filesize": 10}, "invalid_request"),
            body("filesize 0", {"filesize": 0, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize -1", {"filesize": -1, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize string", {"filesize": "10", "filetype": "mp3"}, "invalid_filesize"),
            body("filesize 1.5", {"filesize": 1.5, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize null", {"filesize": None, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize true", {"filesize": True, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize list", {"filesize": [10], "filetype": "mp3"}, "invalid_filesize"),
            body("filesize 2^64", {"filesize": 2 ** 64, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize 1e30", {"filesize": 10 ** 30, "filetype": "mp3"}, "invalid_filesize"),
            body("filesize over max", {"filesize": MAX_FILE_SIZE + 1, "filetype": "mp3"},
                 "filesize_too_large"),
            body("filetype exe", {"filesize": 10, "filetype": "exe"}, "unsupported_filetype"),
            # A filetype that is no string is a malformed request; a string, one not allowed.
            body("filetype empty", {"filesize": 10, "filetype": ""}, "unsupported_filetype"),
            body("filetype number", {"filesize": 10, "filetype": 123}, "invalid_request"),
            body("filetype null", {"filesize": 10, "filetype": None}, "invalid_request"),
            body("filetype path", {"filesize": 10, "filetype": "../mp3"}, "unsupported_filetype"),
            body("filetype dotted", {"filesize": 10, "filetype": ".mp3"}, "unsupported_filetype"),
        ])
        # Exactly the maximum is fine.
        self.assertEqual(self.api.generate(self.token, MAX_FILE_SIZE).status_code, 200)

    def test_complete_rejects_bad_part_lists_and_fields(self):
        other_etag = '"' + md5_hex(b"not this part") + '"'
        c = self.complete_body

        def case(name, payload, status, code):
            return (name, "POST", COMPLETE, {"json_body": payload}, status, code)

        self.run_cases([
            ("not json", "POST", COMPLETE, {"data": "{", "headers": JSON}, 400, "invalid_json"),
            ("json array", "POST", COMPLETE, {"data": "[]", "headers": JSON}, 400, "invalid_json"),
            case("no file_id", c(file_id=...), 400, "invalid_request"),
            case("no upload_id", c(upload_id=...), 400, "invalid_request"),
            case("file_id number", c(file_id=123), 400, "invalid_request"),
            case("no part_list", c(part_list=...), 400, "invalid_part_list"),
            case("part_list string", c(part_list="1,2"), 400, "invalid_part_list"),
            case("part_list object", c(part_list={"PartNumber": 1}), 400, "invalid_part_list"),
            case("part_list empty", c(part_list=[]), 400, "invalid_part_list"),
            case("duplicate part", c(part_list=self.pl(1, 1, 2)), 400, "invalid_part_list"),
            case("descending", c(part_list=self.pl(2, 1)), 400, "invalid_part_list"),
            case("missing part", c(part_list=self.pl(1)), 400, "invalid_part_list"),
            case("part 0", c(part_list=self.pl(0, 1, 2)), 400, "invalid_part_list"),
            case("part past N", c(part_list=self.pl(1, 2, 3)), 400, "invalid_part_list"),
            case("part list of numbers", c(part_list=[1, 2]), 400, "invalid_part_list"),
            case("PartNumber string", c(part_list=[{"PartNumber": "1", "ETag": self.etags[1]},
                                                   self.pl(2)[0]]), 400, "invalid_part_list"),
            case("no ETag", c(part_list=[{"PartNumber": 1}, self.pl(2)[0]]), 400,
                 "invalid_part_list"),
            # A well-formed list whose ETag names no stored part: invalid_part.
            case("ETag of other bytes", c(part_list=self.pl(1) + self.pl(2, etag=other_etag)),
                 400, "invalid_part"),
            case("ETag not hex", c(part_list=self.pl(1) + self.pl(2, etag='"zzz"')), 400,
                 "invalid_part"),
            case("ETag empty", c(part_list=self.pl(1) + self.pl(2, etag='""')), 400,
                 "invalid_part"),
            case("other filetype", c(filetype="wav"), 400, "filetype_mismatch"),
            # Compared with the upload's own filetype, not with the allow-list.
            case("filetype not allowed", c(filetype="exe"), 400, "filetype_mismatch"),
            case("file_md5 xyz", c(file_md5="xyz"), 400, "invalid_file_md5"),
            case("file_md5 31 hex", c(file_md5="a" * 31), 400, "invalid_file_md5"),
            case("file_md5 not hex", c(file_md5="g" * 32), 400, "invalid_file_md5"),
            case("file_md5 number", c(file_md5=123), 400, "invalid_request"),
            case("unknown file_id", c(file_id="file_doesnotexist"), 404, "upload_not_found"),
            case("unknown upload_id", c(upload_id="upload_doesnotexist"), 404, "upload_not_found"),
            case("upload_id of another upload", c(upload_id=self.b["UploadId"]), 404,
                 "upload_not_found"),
            case("file_id of another upload", c(file_id=self.b["FileId"]), 404,
                 "upload_not_found"),
            # Last: a lenient server would complete U here.
            case("no filetype", c(filetype=...), 400, "invalid_request"),
        ])
        # None of that closed U: the right list still completes it.
        resp = self.api.complete(self.token, self.u["FileId"], self.u["UploadId"],
                                 harness.part_list(self.etags), "mp3", md5_hex(self.data))
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json()["FileMd5"], md5_hex(self.data))

    def test_complete_rejects_missing_and_missized_parts(self):
        # Part 2 never uploaded.
        plan = self.api.start_upload(self.token, CHUNK_SIZE + 10)
        etags = harness.put_all_parts(plan, harness.random_bytes(CHUNK_SIZE + 10), only=[1])
        etags[2] = '"' + md5_hex(b"x" * 10) + '"'
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags))
        assert_api_error(resp, 400, "invalid_part")

        # Part 1 shorter than ChunkSize.
        plan = self.api.start_upload(self.token, CHUNK_SIZE + 10)
        bodies = [harness.random_bytes(100), harness.random_bytes(10)]
        etags = {}
        for n, body in enumerate(bodies, start=1):
            r = harness.put_part(plan["Parts"][n - 1]["PresignedUrl"], body)
            self.assertEqual(r.status_code, 200, r.text)
            etags[n] = r.headers["ETag"]
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags))
        assert_api_error(resp, 400, "invalid_part_size")

        # Total differs from filesize (last part short).
        plan = self.api.start_upload(self.token, 1000)
        r = harness.put_part(plan["Parts"][0]["PresignedUrl"], harness.random_bytes(999))
        self.assertEqual(r.status_code, 200, r.text)
        resp = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": 1, "ETag": r.headers["ETag"]}])
        assert_api_error(resp, 400, "invalid_part_size")

    def test_user_token_endpoint_rejects_bad_bodies(self):
        t = self.partner_token

        def case(name, kwargs, code):
            return (name, "POST", USERS, dict(kwargs, token=t), 400, code)

        self.run_cases([
            case("not json", {"data": "user_id=abc", "headers": JSON}, "invalid_json"),
            case("json array", {"data": "[]", "headers": JSON}, "invalid_json"),
            case("no user_id", {"json_body": {}}, "invalid_request"),
            case("user_id number", {"json_body": {"user_id": 123456789}}, "invalid_request"),
            case("expires_in string", {"json_body": {"user_id": "user-123456", "expires_in": "x"}},
                 "invalid_expires_in"),
            case("expires_in float", {"json_body": {"user_id": "user-123456", "expires_in": 1.5}},
                 "invalid_expires_in"),
        ])

    def test_other_endpoints_reject_bad_requests(self):
        self.run_cases([
            ("refresh without token", "POST", REFRESH, {"token": None, "data": {}},
             400, "invalid_request"),
            ("parts without query", "GET", PARTS, {}, 400, "invalid_request"),
            ("parts without upload_id", "GET", PARTS, {"params": {"file_id": self.u["FileId"]}},
             400, "invalid_request"),
            ("parts of unknown upload", "GET", PARTS,
             {"params": {"file_id": "file_nope", "upload_id": "upload_nope"}}, 404,
             "upload_not_found"),
            ("abort not json", "POST", ABORT, {"data": "{{", "headers": JSON}, 400, "invalid_json"),
            ("abort empty object", "POST", ABORT, {"json_body": {}}, 400, "invalid_request"),
            ("abort unknown", "POST", ABORT,
             {"json_body": {"file_id": "file_nope", "upload_id": "upload_nope"}}, 404,
             "upload_not_found"),
            ("get unknown file", "GET", "/open/partner/files/file_nope", {}, 404, "file_not_found"),
            ("delete unknown file", "DELETE", "/open/partner/files/file_nope", {}, 404,
             "file_not_found"),
            ("get traversal id", "GET", "/open/partner/files/..%2F..%2Fetc%2Fpasswd", {}, 404,
             "file_not_found"),
            ("auth checked before body", "POST", GENERATE, {"token": None, "data": "not json",
                                                          "headers": JSON}, 401, "missing_token"),
        ])

    def test_unknown_paths_and_wrong_methods(self):
        self.run_cases([
            ("unknown path", "GET", "/nope", {}, 404, "not_found"),
            ("unknown upload path", "POST", "/open/partner/files/upload/nope",
             {"json_body": {}}, 404, "not_found"),
            ("GET generate", "GET", GENERATE, {}, 405, "method_not_allowed"),
            ("PUT complete", "PUT", COMPLETE, {"json_body": {}}, 405, "method_not_allowed"),
            ("GET user token", "GET", USERS, {}, 405, "method_not_allowed"),
            ("GET partner token", "GET", TOKEN, {"token": None}, 405, "method_not_allowed"),
            ("POST file", "POST", f"/open/partner/files/{self.b['FileId']}", {"json_body": {}},
             405, "method_not_allowed"),
            ("DELETE parts", "DELETE", PARTS, {}, 405, "method_not_allowed"),
        ])
        resp = self.api.http.get(self.server.base_url + "/no/such/thing", timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 404)

    def test_body_over_one_mib_is_413(self):
        size = MiB + MiB // 2
        with harness.RawHttp(self.server.api_url + GENERATE) as conn:
            conn.send_head("POST", {"Authorization": f"Bearer {self.token}",
                                    "Content-Type": "application/json",
                                    "Content-Length": str(size)})
            if not conn.readable_within(2):
                # The server wants to see the body first; give it, as long as it reads.
                padding = json.dumps({"filesize": 10, "filetype": "mp3",
                                      "pad": "x" * (size - 60)}).encode()[:size]
                padding += b" " * (size - len(padding))
                try:
                    conn.send(padding)
                except (BrokenPipeError, ConnectionResetError):
                    pass
            status, headers, body = conn.read_response(timeout=15)
        self.assertEqual(status, 413, body[:300])
        err = json.loads(body)
        self.assertEqual(err["error"]["code"], "body_too_large")
        self.assertTrue(err["error"]["message"] and err["request_id"])

    def test_pipelined_requests_are_answered_in_order(self):
        with harness.RawHttp(self.server.base_url + "/healthz") as conn:
            one = f"GET {harness.BASE_PATH}/nope HTTP/1.1\r\nHost: {conn.host}\r\n\r\n"
            two = f"GET /healthz HTTP/1.1\r\nHost: {conn.host}\r\n\r\n"
            conn.send((one + two).encode())
            first = conn.read_response(timeout=10)
            second = conn.read_response(timeout=10)
        self.assertEqual(first[0], 404)
        self.assertEqual(json.loads(first[2])["error"]["code"], "not_found")
        self.assertEqual(second[0], 200)

    def test_oversized_headers_are_431_and_do_not_hurt_the_server(self):
        # 64 KiB against --max-header-bytes' default of 16 KiB. The server drains what it
        # did not read before it closes, so the answer is never lost to a reset.
        with harness.RawHttp(self.server.base_url + "/healthz") as conn:
            conn.send_head("GET", {"X-Big": "a" * (64 * 1024)})
            status, _, body = conn.read_response(timeout=10)
        self.assertEqual(status, 431, body[:300])
        err = json.loads(body)
        self.assertEqual(err["error"]["code"], "header_too_large")
        self.assertTrue(err["error"]["message"] and err["request_id"])

    def test_storage_endpoint_odd_requests_get_s3_errors(self):
        s3 = harness.s3_client(self.server)
        plan = self.api.start_upload(self.token, CHUNK_SIZE + 1)
        bucket, key, q = harness.split_storage_url(plan["Parts"][0]["PresignedUrl"])
        st = harness.storage_session()
        check = harness.assert_s3_error

        # Unsigned: refused before anything else is looked at.
        check(harness.no_5xx(st.put(self.server.storage_url + "/", data=b"x",
                                    timeout=harness.TIMEOUT)), 403, "AccessDenied")
        check(harness.no_5xx(st.get(f"{self.server.storage_url}/{bucket}",
                                    timeout=harness.TIMEOUT)), 403, "AccessDenied")
        url = s3.generate_presigned_url("abort_multipart_upload", Params={
            "Bucket": bucket, "Key": key, "UploadId": q["uploadId"]}, ExpiresIn=600)
        check(harness.no_5xx(st.delete(url, timeout=harness.TIMEOUT)), 405, "MethodNotAllowed")
        for n in (0, 10001):
            url = s3.generate_presigned_url("upload_part", Params={
                "Bucket": bucket, "Key": key, "UploadId": q["uploadId"], "PartNumber": n},
                ExpiresIn=600)
            check(harness.put_part(url, b"abc"), 400, "InvalidArgument")
        # The method is refused before the signature (made for a PUT) is checked.
        check(harness.no_5xx(st.post(plan["Parts"][0]["PresignedUrl"], data=b"x",
                                     timeout=harness.TIMEOUT)), 405, "MethodNotAllowed")

    def test_zz_still_healthy_and_useful_afterwards(self):
        # Named to run last in this class.
        self.assertEqual(self.api.http.get(self.server.base_url + "/healthz",
                                           timeout=harness.TIMEOUT).status_code, 200)
        data = harness.random_bytes(CHUNK_SIZE + 77)
        _, done = self.api.upload_file(self.token, data)
        self.assertTrue(harness.download(done["DownloadUrl"]).content == data)


if __name__ == "__main__":
    harness.main()
