"""The Uppy example page (clients/js/examples/uppy, in the web bundle as
uppy-example.html) in real headless Chromium, on an origin other than the server's:
a 12 MiB file added through the Dashboard's file input uploads by itself, and the page
lists it with the server's MD5 and a DownloadUrl that serves the same bytes."""

import browser
from harness import MiB, download, md5_hex

SIZE = 12 * MiB  # three parts: 5 + 5 + 2 MiB


class UppyExample(browser.BrowserTestCase):
    def test_the_uppy_example_uploads_a_12_mib_recording(self):
        path, md5 = browser.random_file(SIZE, suffix=".mp3")  # the page takes audio names only
        page = self.site.url("uppy-example.html",
                             {"api": self.server.api_url, "token": self.user_token()})
        got = browser.drive("uppy", pageUrl=page, file=path, screenshot=self.screenshot())
        items = got["items"]
        self.assertEqual([item["className"] for item in items], ["uploaded"],
                         f"{items}\n{browser.summary(got)}")
        self.assertEqual(items[0]["md5"], md5)
        # Uppy PUT the three parts itself, each once.
        self.assertEqual(sorted(put["partNumber"] for put in got["puts"]), [1, 2, 3])
        self.assertEqual({put["status"] for put in got["puts"]}, {200})
        stored = download(items[0]["downloadUrl"])
        self.assertEqual(stored.status_code, 200)
        self.assertEqual(md5_hex(stored.content), md5)
        self.assertEqual(got["pageErrors"], [])


if __name__ == "__main__":
    browser.main()
