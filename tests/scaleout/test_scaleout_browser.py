"""A browser uploads straight to S3: @audiodrop/client in real headless Chromium, on a
page of its own origin, calls a replica on PostgreSQL + Ceph RGW and PUTs the parts to
RGW's presigned URLs. RGW answers the page's CORS preflights by the bucket's CORS rules,
tests/browser/bucket-cors.json (the ones README shows) with the page's origin."""

import json
import os
import sys

import scaleout_harness as sh
from scaleout_harness import setUpModule, tearDownModule  # noqa: F401  (run by unittest)

sys.path.insert(0, os.path.join(sh.HERE, "..", "browser"))
import browser  # noqa: E402
from harness import MiB, download, md5_hex  # noqa: E402

SIZE = 12 * MiB  # three parts: 5 + 5 + 2 MiB
PARTS = 3


def bucket_cors(origin):
    """bucket-cors.json with `origin` as the one allowed origin."""
    with open(os.path.join(browser.HERE, "bucket-cors.json")) as f:
        rules = json.load(f)
    for rule in rules["CORSRules"]:
        rule["AllowedOrigins"] = [origin]
    return rules


class BrowserToS3(browser.BrowserTestCase):
    @classmethod
    def make_server(cls, args):
        return sh.backends.replica(*args)

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        sh.backends.s3().put_bucket_cors(Bucket=sh.BUCKET,
                                         CORSConfiguration=bucket_cors(cls.site.origin))

    @classmethod
    def tearDownClass(cls):
        sh.backends.s3().delete_bucket_cors(Bucket=sh.BUCKET)
        super().tearDownClass()

    def test_a_page_uploads_12_mib_to_s3_by_the_bucket_cors_rules(self):
        path, md5 = browser.random_file(SIZE)
        got = browser.drive("client", pageUrl=self.site.url("client.html"), file=path,
                            upload={"baseUrl": self.server.api_url, "token": self.user_token(),
                                    "concurrency": 3},
                            screenshot=self.screenshot())
        self.assertIsNone(got["error"], browser.summary(got))
        # Each part went once to RGW itself, not through the replica.
        self.assertEqual(sorted(put["partNumber"] for put in got["puts"]),
                         list(range(1, PARTS + 1)))
        self.assertEqual({(put["origin"], put["status"]) for put in got["puts"]},
                         {(sh.backends.rgw.endpoint, 200)})
        done = got["result"]
        self.assertEqual(done["FileMd5"], md5)
        stored = download(done["DownloadUrl"])
        self.assertEqual(stored.status_code, 200)
        self.assertEqual(md5_hex(stored.content), md5)


if __name__ == "__main__":
    browser.main()
