"""@audiodrop/client in real headless Chromium, on a page whose origin is not the
server's (tests/browser/pages/client.html): a 12 MiB upload through CORS with progress
to the end, a reload in the middle that resumes with only the parts the server lacks,
and a page on an origin the server does not allow, which the browser blocks."""

import browser
import harness
from harness import MiB, download, md5_hex

SIZE = 12 * MiB  # three parts: 5 + 5 + 2 MiB
PARTS = 3


class ClientOnAnAllowedOrigin(browser.BrowserTestCase):
    def upload_options(self, **extra):
        return {"baseUrl": self.server.api_url, "token": self.user_token(), **extra}

    def assert_stored(self, done, md5):
        """The server's answer names the file's MD5 and its DownloadUrl serves the bytes."""
        self.assertEqual(done["FileMd5"], md5)
        got = download(done["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertEqual(len(got.content), SIZE)
        self.assertEqual(md5_hex(got.content), md5)

    def test_a_page_on_another_origin_uploads_12_mib_with_progress_to_the_end(self):
        path, md5 = browser.random_file(SIZE)
        got = browser.drive("client", pageUrl=self.site.url("client.html"), file=path,
                            upload=self.upload_options(concurrency=3),
                            screenshot=self.screenshot())
        self.assertIsNone(got["error"], browser.summary(got))
        self.assert_stored(got["result"], md5)
        self.assertEqual(sorted(got["partsUploaded"]), list(range(1, PARTS + 1)))
        progress = got["progress"]  # [bytesSent, bytesTotal, partsDone, partsTotal] each
        self.assertTrue(progress, "no progress event")
        self.assertEqual(progress[-1], [SIZE, SIZE, PARTS, PARTS])
        sent = [p[0] for p in progress]
        self.assertEqual(sent, sorted(sent), "bytesSent went backwards")
        self.assertEqual(got["pageErrors"], [])

    def test_a_reload_mid_upload_resumes_with_only_the_missing_parts(self):
        for concurrency in (1, 2, 3):
            with self.subTest(concurrency=concurrency):
                self.reload_and_resume(concurrency)

    def reload_and_resume(self, concurrency):
        path, md5 = browser.random_file(SIZE)
        # Part 1 goes through; the PUTs of parts 2 and 3 are held in the browser, never
        # sent. With one PUT at a time, part 3 does not start before the reload.
        held = [2] if concurrency == 1 else [2, 3]
        with browser.Driver("client", pageUrl=self.site.url("client.html"), file=path,
                            upload=self.upload_options(concurrency=concurrency),
                            hold=[2, 3], holdSeen=held, reloadAfterPart=1,
                            screenshot=self.screenshot(f"-concurrency{concurrency}")) as driver:
            before = driver.wait_checkpoint("before-reload")
            self.assertEqual(before["partsUploaded"], [1])
            self.assertEqual(sorted(before["held"]), held)
            object_path, = {put["path"] for put in before["puts"]}
            puts = browser.wait_request_lines(self.server, 1, listener="storage",
                                              method="PUT", path=object_path, status=200)
            self.assertEqual(len(puts), 1, "the server got more than part 1 before the reload")
            driver.resume()
            got = driver.result()
        self.assertTrue(got["reloaded"], "the upload finished before the reload")
        self.assertIsNone(got["error"], browser.summary(got))
        self.assert_stored(got["result"], md5)
        after = [put for put in got["puts"] if put["phase"] == 2]
        self.assertEqual(sorted(put["partNumber"] for put in after), [2, 3])
        self.assertEqual({put["path"] for put in after}, {object_path})
        # Part 1 once before the reload, parts 2 and 3 once after: three in all, and
        # nothing of the held PUTs ever reached the server.
        browser.wait_request_lines(self.server, PARTS, listener="storage", method="PUT",
                                   path=object_path, status=200)
        puts = browser.request_lines(self.server, listener="storage", method="PUT",
                                     path=object_path)
        self.assertEqual([put["status"] for put in puts], ["200"] * PARTS)


class ClientOnAnOriginNotAllowed(browser.BrowserTestCase):
    @classmethod
    def server_args(cls, page_origin):
        return ("--cors-allowed-origins", "http://127.0.0.1:1")  # some other page's

    def test_the_browser_blocks_a_page_the_server_does_not_allow(self):
        path, _ = browser.random_file(SIZE)
        got = browser.drive("client", pageUrl=self.site.url("client.html"), file=path,
                            upload={"baseUrl": self.server.api_url, "token": self.user_token(),
                                    "retry": {"attempts": 1}},
                            screenshot=self.screenshot())
        self.assertIsNone(got["result"], browser.summary(got))
        error = got["error"]
        # fetch rejects with a TypeError, which the client reports as network_error.
        self.assertEqual((error["code"], error["status"], error["causeIsTypeError"]),
                         ("network_error", 0, True), error)
        blocked = [m["text"] for m in got["console"]
                   if m["type"] == "error" and "blocked by CORS policy" in m["text"]]
        self.assertTrue(blocked, "no CORS block in the console\n" + browser.summary(got))
        self.assertIn(f"from origin '{self.site.origin}'", blocked[0])
        generate = self.server.base_path + "/open/partner/files/upload/generate-presigned-urls"
        refused = browser.wait_request_lines(self.server, 1, listener="api", method="OPTIONS",
                                             path=generate)
        self.assertEqual([line["status"] for line in refused], ["403"])
        self.assertEqual(browser.request_lines(self.server, method="POST", path=generate), [])
        self.assertEqual(harness.metric(self.server, "audiodrop_uploads_started_total"), 0)


if __name__ == "__main__":
    browser.main()
