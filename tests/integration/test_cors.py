"""CORS on both listeners (--cors-allowed-origins): preflights for the API's token and
JSON, part PUTs and downloads on the storage endpoint with ETag exposed to scripts, no
CORS header at all for an origin not allowed (so the browser blocks it), never a 5xx,
and without the option, no CORS whatsoever. Browsers are tested in the browser suite;
this pins the headers they act on."""

import harness
from harness import md5_hex

PAGE = "http://127.0.0.1:3000"
OTHER = "http://127.0.0.1:3001"


def preflight(url, origin, method, headers=""):
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    with harness.http_session() as http:
        return harness.no_5xx(http.options(url, headers=h, timeout=harness.TIMEOUT))


class Cors(harness.ServerTestCase):
    server_args = ("--cors-allowed-origins", f"{PAGE}, https://app.example.com")

    def test_the_api_answers_a_preflight_for_its_token_and_json(self):
        resp = preflight(self.server.api_url + "/open/partner/files/upload/complete-upload",
                         PAGE, "POST", "authorization,content-type")
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(resp.headers["Access-Control-Allow-Origin"], PAGE)
        self.assertIn("POST", resp.headers["Access-Control-Allow-Methods"])
        self.assertEqual(resp.headers["Access-Control-Allow-Headers"],
                         "Authorization, Content-Type")
        self.assertEqual(resp.headers["Access-Control-Max-Age"], "600")
        self.assertIn("Origin", resp.headers["Vary"])

    def test_api_answers_carry_the_origin_for_allowed_pages_only(self):
        token = self.user()
        resp = self.api.request("POST", "/open/partner/files/upload/generate-presigned-urls",
                                token=token, json_body={"filesize": 10, "filetype": "mp3"},
                                headers={"Origin": PAGE})
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.headers["Access-Control-Allow-Origin"], PAGE)
        self.assertIn("X-Request-Id", resp.headers["Access-Control-Expose-Headers"])
        # Errors carry it too, or the page could not read why it failed.
        bad = self.api.request("POST", "/open/partner/files/upload/generate-presigned-urls",
                               token=token, json_body={"filesize": 0, "filetype": "mp3"},
                               headers={"Origin": PAGE})
        self.assertEqual(bad.status_code, 400)
        self.assertEqual(bad.headers["Access-Control-Allow-Origin"], PAGE)
        other = self.api.request("POST", "/open/partner/files/upload/generate-presigned-urls",
                                 token=token, json_body={"filesize": 10, "filetype": "mp3"},
                                 headers={"Origin": OTHER})
        self.assertNotIn("Access-Control-Allow-Origin", other.headers)

    def test_a_preflight_from_another_origin_or_for_another_method_is_refused(self):
        for origin, method in ((OTHER, "POST"), ("null", "POST"), (PAGE, "PATCH")):
            resp = preflight(self.server.api_url + "/open/partner/webhooks", origin, method)
            self.assertEqual(resp.status_code, 403, f"{origin} {method}: {resp.text}")
            self.assertNotIn("Access-Control-Allow-Origin", resp.headers)
            self.assertEqual(resp.json()["error"]["code"], "cors_not_allowed")

    def test_the_storage_endpoint_lets_a_page_put_parts_and_read_their_etag(self):
        token = self.user()
        data = harness.random_bytes(1000)
        plan = self.api.start_upload(token, len(data))
        url = plan["Parts"][0]["PresignedUrl"]
        resp = preflight(url, PAGE, "PUT", "content-type")
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(resp.headers["Access-Control-Allow-Origin"], PAGE)
        self.assertIn("PUT", resp.headers["Access-Control-Allow-Methods"])
        self.assertEqual(resp.headers["Access-Control-Allow-Headers"], "content-type")
        put = harness.put_part(url, data, headers={"Origin": PAGE})
        self.assertEqual(put.status_code, 200, put.text)
        self.assertEqual(put.headers["Access-Control-Allow-Origin"], PAGE)
        exposed = [h.strip() for h in put.headers["Access-Control-Expose-Headers"].split(",")]
        for name in ("ETag", "Content-Length", "Content-Range", "Accept-Ranges", "Retry-After"):
            self.assertIn(name, exposed)
        etags = {1: put.headers["ETag"]}
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        got = harness.download(done.json()["DownloadUrl"], headers={"Origin": PAGE,
                                                                   "Range": "bytes=0-9"})
        self.assertEqual(got.status_code, 206)
        self.assertEqual(got.headers["Access-Control-Allow-Origin"], PAGE)
        refused = preflight(url, OTHER, "PUT")
        self.assertEqual(refused.status_code, 403)
        self.assertNotIn("Access-Control-Allow-Origin", refused.headers)
        self.assertIn(b"may not call this server", refused.content)  # S3 XML


class AnyOrigin(harness.ServerTestCase):
    server_args = ("--cors-allowed-origins", "*")

    def test_a_star_allows_every_page_without_naming_it(self):
        resp = preflight(self.server.api_url + "/open/partner/users/access-token",
                         "https://anywhere.example", "POST", "authorization")
        self.assertEqual(resp.status_code, 204, resp.text)
        self.assertEqual(resp.headers["Access-Control-Allow-Origin"], "*")


class NoCors(harness.ServerTestCase):
    def test_without_the_option_no_cors_header_is_sent(self):
        resp = preflight(self.server.api_url + "/open/partner/webhooks", PAGE, "POST")
        self.assertEqual(resp.status_code, 405)
        self.assertNotIn("Access-Control-Allow-Origin", resp.headers)
        healthz = self.api.http.get(self.server.base_url + "/healthz", headers={"Origin": PAGE},
                                    timeout=harness.TIMEOUT)
        self.assertNotIn("Access-Control-Allow-Origin", healthz.headers)


if __name__ == "__main__":
    harness.main()
