"""Request ids end to end: a client's well-formed X-Request-Id is kept, answered in the
header and the error body and logged, on the API and the storage endpoint; anything else
(too long, other characters, empty, two headers) is replaced by a fresh req_ id and never
refused; the webhook delivery of a completed upload carries the complete's id."""

import http.client
import unittest
import xml.etree.ElementTree as ET

import harness
from audio_files import make_audio
from webhook_receiver import Receiver

LOOPBACK = ("--webhook-allow-http", "--webhook-allow-private", "--webhook-timeout", "2")
WELL_FORMED = "trace:3f2b8c1e-9d4a.4c7e_8b1f"
MALFORMED = {
    "too long": "x" * 129,
    "a space": "has space",
    "a semicolon": "semi;colon",
    "a slash": "a/b",
    "a quote": 'say"hi',
    "non-ASCII": "caf\u00e9",
    "empty": "",
}


def raw_request(url, method, path, request_ids, body=None, headers=()):
    """(status, headers, body) of a request sent with http.client, one X-Request-Id
    header per entry of `request_ids`, exactly as given (requests would merge or drop
    some)."""
    host, _, port = url.removeprefix("http://").partition(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=harness.TIMEOUT)
    try:
        conn.putrequest(method, path)
        for value in request_ids:
            conn.putheader("X-Request-Id", value.encode("utf-8"))
        for name, value in headers:
            conn.putheader(name, value)
        conn.putheader("Content-Length", str(len(body or b"")))
        conn.endheaders(body or b"")
        resp = conn.getresponse()
        return resp.status, resp.headers, resp.read()
    finally:
        conn.close()


def is_fresh(request_id):
    return request_id.startswith("req_") and len(request_id) > len("req_")


class RequestIds(harness.ServerTestCase):
    server_args = LOOPBACK

    def unauthorized_generate(self, request_ids):
        """An API call refused with a JSON error: (status, headers, error body)."""
        status, headers, body = raw_request(
            self.server.base_url, "POST",
            harness.BASE_PATH + "/open/partner/files/upload/generate-presigned-urls",
            request_ids, b'{"filesize":1,"filetype":"mp3"}',
            headers=[("Content-Type", "application/json")])
        return status, headers, harness.json.loads(body)

    def assert_logged(self, request_id, listener, path):
        lines = self.server.wait_log_lines(request_id=request_id, listener=listener)
        self.assertEqual([line["path"] for line in lines], [path],
                         f"log lines of {request_id}: {lines}")

    def test_a_well_formed_id_is_answered_in_the_header_and_error_body_and_logged(self):
        resp = self.api.request("POST", "/open/partner/files/upload/generate-presigned-urls",
                                json_body={"filesize": 1, "filetype": "mp3"},
                                headers={"X-Request-Id": WELL_FORMED})
        self.assertEqual(resp.status_code, 401, resp.text)
        self.assertEqual(resp.headers["X-Request-Id"], WELL_FORMED)
        self.assertEqual(resp.json()["request_id"], WELL_FORMED)
        self.assert_logged(WELL_FORMED, "api",
                           harness.BASE_PATH + "/open/partner/files/upload/generate-presigned-urls")

    def test_a_successful_answer_carries_the_id_too(self):
        resp = self.api.http.get(self.server.base_url + "/healthz",
                                 headers={"X-Request-Id": "health-1"}, timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 200)
        self.assertEqual(resp.headers["X-Request-Id"], "health-1")

    def test_malformed_ids_are_replaced_by_a_fresh_one_and_never_refused(self):
        for why, value in MALFORMED.items():
            with self.subTest(why):
                status, headers, error = self.unauthorized_generate([value])
                self.assertEqual(status, 401, error)  # refused for its token, not its id
                answered = headers["X-Request-Id"]
                self.assertTrue(is_fresh(answered), answered)
                self.assertEqual(error["request_id"], answered)
                self.assert_logged(answered, "api", harness.BASE_PATH +
                                   "/open/partner/files/upload/generate-presigned-urls")

    def test_two_ids_are_both_ignored(self):
        status, headers, error = self.unauthorized_generate(["first-id", "second-id"])
        self.assertEqual(status, 401, error)
        self.assertTrue(is_fresh(headers["X-Request-Id"]), headers["X-Request-Id"])
        self.assertEqual(error["request_id"], headers["X-Request-Id"])
        self.assertEqual(self.server.log_lines(request_id="first-id"), [])
        self.assertEqual(self.server.log_lines(request_id="second-id"), [])

    def test_each_request_without_an_id_gets_its_own(self):
        answered = {self.unauthorized_generate([])[1]["X-Request-Id"] for _ in range(3)}
        self.assertEqual(len(answered), 3, answered)
        self.assertTrue(all(is_fresh(a) for a in answered), answered)

    def test_the_storage_endpoint_keeps_a_well_formed_id_in_its_s3_error(self):
        status, headers, body = raw_request(self.server.storage_url, "GET",
                                            "/audiodrop/no-such-key", [WELL_FORMED])
        self.assertEqual(status, 403, body)
        self.assertEqual(headers["X-Request-Id"], WELL_FORMED)
        self.assertEqual(headers["x-amz-request-id"], WELL_FORMED)
        self.assertEqual(ET.fromstring(body).findtext("RequestId"), WELL_FORMED)
        self.assert_logged(WELL_FORMED, "storage", "/audiodrop/no-such-key")

    def test_the_storage_endpoint_replaces_a_malformed_id(self):
        for why, value in MALFORMED.items():
            with self.subTest(why):
                status, headers, body = raw_request(self.server.storage_url, "GET",
                                                    "/audiodrop/no-such-key", [value])
                self.assertEqual(status, 403, body)
                answered = headers["X-Request-Id"]
                self.assertTrue(is_fresh(answered), answered)
                self.assertEqual(ET.fromstring(body).findtext("RequestId"), answered)

    def test_a_part_upload_keeps_the_id_it_was_sent_with(self):
        plan = self.api.start_upload(self.user(), 1000)
        resp = harness.put_part(plan["Parts"][0]["PresignedUrl"], b"p" * 1000,
                                headers={"X-Request-Id": "part-upload-7"})
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.headers["X-Request-Id"], "part-upload-7")
        path = harness.urllib.parse.urlsplit(plan["Parts"][0]["PresignedUrl"]).path
        self.assert_logged("part-upload-7", "storage", path)


class RequestIdsOnWebhooks(harness.ServerTestCase):
    server_args = LOOPBACK

    def setUp(self):
        self.receiver = Receiver().__enter__()
        self.addCleanup(self.receiver.__exit__, None, None, None)
        self.partner_token = self.api.partner_tokens(self.partner)["access_token"]
        made = self.api.request("POST", "/open/partner/webhooks", token=self.partner_token,
                                json_body={"url": self.receiver.url, "events": ["file.uploaded"]})
        self.assertEqual(made.status_code, 201, made.text)
        self.webhook_id = made.json()["Id"]
        self.receiver.secret = made.json()["Secret"]
        # Before the receiver goes: no later test's event is sent to it.
        self.addCleanup(self.api.request, "DELETE", f"/open/partner/webhooks/{self.webhook_id}",
                        token=self.partner_token)

    def test_the_delivery_of_a_completed_upload_carries_the_completes_id(self):
        token = self.user()
        audio = make_audio("mp3", 1.0)
        plan = self.api.start_upload(token, len(audio), "mp3")
        etags = harness.put_all_parts(plan, audio)
        body = {"file_id": plan["FileId"], "upload_id": plan["UploadId"],
                "part_list": harness.part_list(etags), "filetype": "mp3"}
        done = self.api.request("POST", "/open/partner/files/upload/complete-upload",
                                token=token, json_body=body,
                                headers={"X-Request-Id": "complete-42"})
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.headers["X-Request-Id"], "complete-42")

        [delivery] = self.receiver.wait_event("file.uploaded",
                                              where=lambda d: d["FileId"] == plan["FileId"])
        self.assertEqual(delivery.headers.get("X-Request-Id"), "complete-42")
        [attempt] = self.server.wait_log_lines(event="webhook_attempt",
                                               event_id=delivery.json["id"],
                                               webhook_id=self.webhook_id)
        self.assertEqual(attempt["request_id"], "complete-42")

    def test_a_ping_is_delivered_with_the_ping_calls_id(self):
        ping = self.api.request("POST", f"/open/partner/webhooks/{self.webhook_id}/ping",
                                token=self.partner_token, headers={"X-Request-Id": "ping-9"})
        self.assertEqual(ping.status_code, 202, ping.text)
        [delivery] = self.receiver.wait_event("webhook.ping")
        self.assertEqual(delivery.headers.get("X-Request-Id"), "ping-9")


if __name__ == "__main__":
    harness.main()
