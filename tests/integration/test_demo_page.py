"""The demo upload page (--demo): /demo/ and /demo/demo.js served outside the base path
without a token, with the base path written into the page, security headers (CSP,
nosniff, no referrer, no framing) and ETags; /demo redirects to /demo/; anything else
under /demo/ is the API's 404. The storage endpoint lets the page's origin (the API's
own) PUT parts, without widening the API's CORS list. Without --demo there is no page.
The page's behaviour in a browser is the browser suite's."""

import base64
import hashlib
import re

import harness
from harness import md5_hex

BASE_PATH = "/partner-api"
LISTED = "https://app.example.com"
STRANGER = "http://127.0.0.1:1"


def get(url, method="GET", **kwargs):
    with harness.http_session() as http:
        return harness.no_5xx(http.request(method, url, timeout=harness.TIMEOUT,
                                           allow_redirects=False, **kwargs))


def preflight(url, origin, method="PUT"):
    return get(url, "OPTIONS", headers={"Origin": origin,
                                        "Access-Control-Request-Method": method,
                                        "Access-Control-Request-Headers": "content-type"})


def csp_directives(resp):
    policy = resp.headers["Content-Security-Policy"]
    return {d.split()[0]: d.split()[1:] for d in (p.strip() for p in policy.split(";")) if d}


class DemoPage(harness.ServerTestCase):
    server_args = ("--demo", "--cors-allowed-origins", LISTED)
    server_kwargs = {"base_path": BASE_PATH}

    @property
    def page_url(self):
        return self.server.base_url + "/demo/"

    @property
    def page_origin(self):
        return self.server.base_url

    def test_the_page_is_served_without_a_token_with_the_base_path_filled_in(self):
        resp = get(self.page_url)
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.headers["Content-Type"], "text/html; charset=utf-8")
        self.assertIn(f'<meta name="audiodrop-api-base" content="{BASE_PATH}">', resp.text)
        self.assertNotIn("__AUDIODROP_API_BASE__", resp.text)
        self.assertIn('<script type="module" src="demo.js"></script>', resp.text)
        self.assertIn('id="file"', resp.text)

    def test_the_page_forbids_sniffing_framing_referrers_and_foreign_origins(self):
        resp = get(self.page_url)
        self.assertEqual(resp.headers["X-Content-Type-Options"], "nosniff")
        self.assertEqual(resp.headers["Referrer-Policy"], "no-referrer")
        self.assertEqual(resp.headers["Cache-Control"], "no-cache")
        csp = csp_directives(resp)
        storage = self.server.storage_url
        self.assertEqual(csp["default-src"], ["'self'"])
        self.assertEqual(csp["script-src"], ["'self'", "'wasm-unsafe-eval'"])
        self.assertEqual(csp["connect-src"], ["'self'", storage])
        self.assertEqual(csp["media-src"], [storage])
        self.assertEqual(csp["frame-ancestors"], ["'none'"])
        # The page's one <style> block is allowed by its hash, and nothing else inline.
        styles = re.findall(r"<style>(.*?)</style>", resp.text, re.S)
        self.assertEqual(len(styles), 1)
        digest = base64.b64encode(hashlib.sha256(styles[0].encode()).digest()).decode()
        self.assertEqual(csp["style-src"], ["'self'", f"'sha256-{digest}'"])
        self.assertNotIn("'unsafe-inline'", resp.headers["Content-Security-Policy"])

    def test_the_script_is_javascript(self):
        resp = get(self.server.base_url + "/demo/demo.js")
        self.assertEqual(resp.status_code, 200, resp.text[:300])
        self.assertEqual(resp.headers["Content-Type"], "text/javascript; charset=utf-8")
        self.assertEqual(resp.headers["X-Content-Type-Options"], "nosniff")
        self.assertGreater(len(resp.content), 1000)
        self.assertIn(b"audiodrop-api-base", resp.content)

    def test_the_bare_path_redirects_to_the_page(self):
        resp = get(self.server.base_url + "/demo")
        self.assertEqual(resp.status_code, 301)
        self.assertEqual(resp.headers["Location"], "/demo/")

    def test_other_paths_under_demo_are_the_apis_404(self):
        for path in ("/demo/x", "/demo/index.html", "/demo/demo.js/", "/demox"):
            resp = get(self.server.base_url + path)
            harness.assert_api_error(resp, 404, "not_found")
        resp = get(self.page_url, "POST", data=b"")
        harness.assert_api_error(resp, 405, "method_not_allowed")
        self.assertEqual(resp.headers["Allow"], "GET")

    def test_head_gives_the_headers_and_length_without_the_body(self):
        full = get(self.page_url)
        for url, want in ((self.page_url, full),
                          (self.server.base_url + "/demo/demo.js",
                           get(self.server.base_url + "/demo/demo.js"))):
            head = get(url, "HEAD")
            self.assertEqual(head.status_code, 200)
            self.assertEqual(head.content, b"")
            self.assertEqual(int(head.headers["Content-Length"]), len(want.content))
            self.assertEqual(head.headers["ETag"], want.headers["ETag"])
            self.assertEqual(head.headers["Content-Type"], want.headers["Content-Type"])

    def test_a_known_etag_is_answered_304(self):
        first = get(self.page_url)
        etag = first.headers["ETag"]
        again = get(self.page_url, headers={"If-None-Match": etag})
        self.assertEqual(again.status_code, 304)
        self.assertEqual(again.content, b"")
        self.assertEqual(again.headers["ETag"], etag)
        stale = get(self.page_url, headers={"If-None-Match": '"stale"'})
        self.assertEqual(stale.status_code, 200)
        script = get(self.server.base_url + "/demo/demo.js", headers={"If-None-Match": etag})
        self.assertEqual(script.status_code, 200, "the script has its own ETag")

    def test_the_storage_endpoint_lets_the_pages_origin_put_parts(self):
        token = self.user()
        data = harness.random_bytes(1000)
        plan = self.api.start_upload(token, len(data))
        url = plan["Parts"][0]["PresignedUrl"]
        allowed = preflight(url, self.page_origin)
        self.assertEqual(allowed.status_code, 204, allowed.text)
        self.assertEqual(allowed.headers["Access-Control-Allow-Origin"], self.page_origin)
        put = harness.put_part(url, data, headers={"Origin": self.page_origin})
        self.assertEqual(put.status_code, 200, put.text)
        self.assertEqual(put.headers["Access-Control-Allow-Origin"], self.page_origin)
        self.assertIn("ETag", put.headers["Access-Control-Expose-Headers"])
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 harness.part_list({1: put.headers["ETag"]}), "mp3",
                                 md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        # The listed origin keeps its access; any other is refused.
        self.assertEqual(preflight(url, LISTED).status_code, 204)
        refused = preflight(url, STRANGER)
        self.assertEqual(refused.status_code, 403)
        self.assertNotIn("Access-Control-Allow-Origin", refused.headers)

    def test_the_apis_own_cors_list_is_not_widened(self):
        url = self.server.api_url + "/open/partner/files/upload/generate-presigned-urls"
        self.assertEqual(preflight(url, LISTED, "POST").status_code, 204)
        # The page calls the API from its own origin, which needs no CORS at all.
        refused = preflight(url, self.page_origin, "POST")
        self.assertEqual(refused.status_code, 403, refused.text)

    def test_the_log_names_the_page(self):
        lines = self.server.log_events(f"demo page at {self.server.base_url}/demo/")
        self.assertEqual(len(lines), 1)


class DemoFromTheEnvironment(harness.ServerTestCase):
    server_kwargs = {"env": {"AUDIODROP_DEMO": "true"}}

    def test_audiodrop_demo_turns_the_page_on_and_the_base_path_is_the_default(self):
        resp = get(self.server.base_url + "/demo/")
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertIn(f'content="{harness.BASE_PATH}"', resp.text)
        # With no --cors-allowed-origins, the storage endpoint still lets the page in.
        token = self.user()
        plan = self.api.start_upload(token, 10)
        url = plan["Parts"][0]["PresignedUrl"]
        self.assertEqual(preflight(url, self.server.base_url).status_code, 204)
        self.assertEqual(preflight(url, STRANGER).status_code, 403)


class NoDemo(harness.ServerTestCase):
    def test_without_the_option_there_is_no_page(self):
        for path in ("/demo/", "/demo", "/demo/demo.js"):
            harness.assert_api_error(get(self.server.base_url + path), 404, "not_found")
        self.assertEqual(self.server.log_events(f"demo page at {self.server.base_url}/demo/"), [])


if __name__ == "__main__":
    harness.main()
