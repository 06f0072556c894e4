"""Webhooks end to end: a partner subscribes, completes an upload, and a real receiver on
loopback gets a file.uploaded event it verifies both ways (Plaud and Standard Webhooks),
with the audio facts and a DownloadUrl that works. Also the subscription API and its
refusals, pings, retries with one event id, rotation, the other events, receivers that
stall or never stop talking, the SSRF refusals, and kill -9 right after a complete."""

import time
import unittest

import harness
from audio_files import make_audio
from webhook_receiver import Receiver, verified

RETRIES = ("--webhook-retry-schedule", "300ms,300ms,300ms")
LOOPBACK = ("--webhook-allow-http", "--webhook-allow-private", "--webhook-timeout", "2")
WEBHOOKS = "/open/partner/webhooks"


class WebhookApi:
    def __init__(self, api, partner):
        self.api = api
        self.token = api.partner_tokens(partner)["access_token"]

    def create(self, url, events=("file.uploaded",), description=None, expect=201):
        body = {"url": url, "events": list(events)}
        if description is not None:
            body["description"] = description
        resp = self.api.request("POST", WEBHOOKS, token=self.token, json_body=body)
        assert resp.status_code == expect, f"create webhook: {resp.status_code} {resp.text}"
        return resp.json()

    def call(self, method, path="", expect=200):
        resp = self.api.request(method, WEBHOOKS + path, token=self.token)
        assert resp.status_code == expect, f"{method} {path}: {resp.status_code} {resp.text}"
        return resp.json() if resp.content else None

    def deliveries(self, webhook_id):
        return self.call("GET", f"/{webhook_id}/deliveries")["Deliveries"]


class Webhooks(harness.ServerTestCase):
    server_args = LOOPBACK + RETRIES

    def setUp(self):
        self.receiver = Receiver().__enter__()
        self.hooks = WebhookApi(self.api, self.partner)

    def tearDown(self):
        self.receiver.__exit__(None, None, None)

    def subscribe(self, events=("file.uploaded",)):
        made = self.hooks.create(self.receiver.url, events)
        self.receiver.secret = made["Secret"]
        return made

    def test_subscription_shows_its_secret_once(self):
        made = self.hooks.create(self.receiver.url, ["file.uploaded", "upload.aborted"],
                                 "transcription intake")
        self.assertEqual(set(made), {"Id", "Url", "Events", "Description", "Secret", "CreatedAt"})
        self.assertTrue(made["Id"].startswith("whk_"), made)
        self.assertTrue(made["Secret"].startswith("whsec_"), made)
        self.assertEqual(len(harness.base64.b64decode(made["Secret"][6:])), 32)
        self.assertEqual(made["Events"], ["file.uploaded", "upload.aborted"])
        shown = self.hooks.call("GET", "/" + made["Id"])
        self.assertNotIn("Secret", shown)
        self.assertEqual(shown["Url"], self.receiver.url)
        listed = self.hooks.call("GET")["Webhooks"]
        self.assertIn(made["Id"], [w["Id"] for w in listed])
        self.assertTrue(all("Secret" not in w for w in listed))
        self.hooks.call("DELETE", "/" + made["Id"], expect=204)
        self.hooks.call("GET", "/" + made["Id"], expect=404)

    def test_another_partners_subscription_is_not_found(self):
        made = self.subscribe()
        other = WebhookApi(self.api, harness.create_partner(self.server))
        for method, path in (("GET", ""), ("DELETE", ""), ("POST", "/ping"),
                             ("POST", "/rotate-secret"), ("GET", "/deliveries")):
            resp = self.api.request(method, f"{WEBHOOKS}/{made['Id']}{path}", token=other.token)
            self.assertEqual(resp.status_code, 404, f"{method} {path}: {resp.text}")
            self.assertEqual(resp.json()["error"]["code"], "webhook_not_found")
        self.assertNotIn(made["Id"], [w["Id"] for w in other.call("GET")["Webhooks"]])

    def test_bad_subscriptions_are_refused_with_a_reason(self):
        cases = [
            ({"url": "ftp://127.0.0.1/x", "events": ["file.uploaded"]}, "invalid_webhook_url"),
            ({"url": "not a url", "events": ["file.uploaded"]}, "invalid_webhook_url"),
            ({"url": self.receiver.url, "events": []}, "invalid_events"),
            ({"url": self.receiver.url, "events": ["file.exploded"]}, "invalid_events"),
            ({"url": self.receiver.url, "events": "file.uploaded"}, "invalid_events"),
            ({"events": ["file.uploaded"]}, "invalid_request"),
            ({"url": self.receiver.url, "events": ["file.uploaded"], "description": "x" * 257},
             "invalid_description"),
        ]
        for body, code in cases:
            resp = self.api.request("POST", WEBHOOKS, token=self.hooks.token, json_body=body)
            self.assertEqual(resp.status_code, 400, f"{body}: {resp.text}")
            self.assertEqual(resp.json()["error"]["code"], code, body)

    def test_user_tokens_cannot_manage_webhooks(self):
        resp = self.api.request("GET", WEBHOOKS, token=self.user())
        self.assertEqual(resp.status_code, 403, resp.text)
        self.assertEqual(resp.json()["error"]["code"], "partner_token_required")
        self.assertEqual(self.api.request("GET", WEBHOOKS).status_code, 401)

    def test_a_completed_upload_is_announced_signed_with_its_audio_facts(self):
        made = self.subscribe()
        token = self.user("webhook-user-1")
        audio = make_audio("mp3", 2.5)
        plan, done = self.api.upload_file(token, audio, "mp3")
        [delivery] = self.receiver.wait_event("file.uploaded",
                                              where=lambda d: d["FileId"] == plan["FileId"])
        event = delivery.json
        self.assertEqual(set(event), {"id", "event", "created_at", "data"})
        self.assertTrue(event["id"].startswith("evt_"))
        self.assertEqual(delivery.headers["webhook-id"], event["id"])
        self.assertEqual(delivery.headers["Content-Type"], "application/json")
        data = event["data"]
        self.assertEqual(data["UserId"], "webhook-user-1")
        self.assertEqual(data["FileType"], "mp3")
        self.assertEqual(data["FileSize"], len(audio))
        self.assertEqual(data["FileMd5"], harness.md5_hex(audio))
        self.assertEqual(data["Audio"]["Format"], "mp3")
        self.assertEqual(data["Audio"]["Codec"], "mp3")
        self.assertAlmostEqual(data["Audio"]["DurationSeconds"], 2.5, delta=0.05)
        self.assertEqual(data["Audio"]["SampleRate"], 44100)
        self.assertEqual(data["Audio"]["Channels"], 1)
        self.assertNotIn("AudioError", data)
        self.assertIn("DownloadUrlExpiresAt", data)
        got = harness.download(data["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertTrue(got.content == audio)
        # A tampered body no longer verifies.
        self.assertFalse(verified(made["Secret"], delivery.headers,
                                  delivery.body.replace(b"webhook-user-1", b"webhook-user-2")))
        self.assertTrue(verified(made["Secret"], delivery.headers, delivery.body))
        # GET file shows the same facts.
        shown = self.api.get_file(token, plan["FileId"]).json()
        self.assertEqual(shown["Audio"], data["Audio"])
        attempts = self.hooks.deliveries(made["Id"])
        ours = [a for a in attempts if a["EventId"] == event["id"]]
        self.assertEqual(len(ours), 1, attempts)
        self.assertEqual(ours[0]["Status"], 200)
        self.assertIsNone(ours[0]["NextAttemptAt"])

    def test_a_failing_receiver_gets_retries_with_one_event_id(self):
        made = self.subscribe()
        self.receiver.statuses = [500, 500, 500]
        ping = self.hooks.call("POST", f"/{made['Id']}/ping", expect=202)
        deliveries = self.receiver.wait_event("webhook.ping", count=4)
        self.assertEqual({d.json["id"] for d in deliveries}, {ping["EventId"]})
        harness.wait_for(lambda: len(self.hooks.deliveries(made["Id"])) == 4, timeout=10,
                         what="the 4 attempts to be listed")
        attempts = self.hooks.deliveries(made["Id"])
        self.assertEqual([a["Attempt"] for a in attempts], [4, 3, 2, 1])
        self.assertEqual([a["Status"] for a in attempts], [200, 500, 500, 500])
        self.assertEqual({a["EventId"] for a in attempts}, {ping["EventId"]})
        self.assertIsNone(attempts[0]["NextAttemptAt"])
        self.assertIsNotNone(attempts[1]["NextAttemptAt"])
        self.assertIn("500", attempts[1]["Error"])

    def test_a_receiver_that_never_recovers_is_given_up_on(self):
        made = self.subscribe()
        self.receiver.statuses = [503] * 10
        self.hooks.call("POST", f"/{made['Id']}/ping", expect=202)
        harness.wait_for(lambda: len(self.hooks.deliveries(made["Id"])) == 4, timeout=15,
                         what="4 attempts")
        last = self.hooks.deliveries(made["Id"])[0]
        self.assertEqual(last["Attempt"], 4)
        self.assertIsNone(last["NextAttemptAt"], "no fifth attempt is scheduled")
        self.assertIn("503", last["Error"])

    def test_rotation_signs_with_both_secrets_for_a_while(self):
        made = self.subscribe()
        rotated = self.hooks.call("POST", f"/{made['Id']}/rotate-secret")
        self.assertNotEqual(rotated["Secret"], made["Secret"])
        self.hooks.call("POST", f"/{made['Id']}/ping", expect=202)
        [delivery] = self.receiver.wait_event("webhook.ping")
        self.assertTrue(verified(rotated["Secret"], delivery.headers, delivery.body))
        self.assertEqual(len(delivery.headers["webhook-signature"].split(" ")), 2)

    def test_abort_and_delete_are_announced(self):
        self.subscribe(["upload.aborted", "file.deleted"])
        token = self.user()
        plan = self.api.start_upload(token, 1000)
        self.assertEqual(self.api.abort(token, plan["FileId"], plan["UploadId"]).status_code, 200)
        [aborted] = self.receiver.wait_event("upload.aborted",
                                             where=lambda d: d["FileId"] == plan["FileId"])
        self.assertEqual(aborted.json["data"]["UploadId"], plan["UploadId"])
        other, _ = self.api.upload_file(token, make_audio("wav", 0.5), "wav")
        self.assertEqual(self.api.delete_file(token, other["FileId"]).status_code, 200)
        self.receiver.wait_event("file.deleted", where=lambda d: d["FileId"] == other["FileId"])


class UnfriendlyReceivers(harness.ServerTestCase):
    server_args = LOOPBACK + ("--webhook-retry-schedule", "1d")

    def test_a_stalled_receiver_is_cut_at_the_timeout(self):
        with Receiver() as receiver:
            hooks = WebhookApi(self.api, self.partner)
            made = hooks.create(receiver.url)
            receiver.hold.set()
            started = time.monotonic()
            hooks.call("POST", f"/{made['Id']}/ping", expect=202)
            harness.wait_for(lambda: hooks.deliveries(made["Id"]), timeout=15,
                             what="the stalled attempt to be recorded")
            self.assertLess(time.monotonic() - started, 10)
            [attempt] = hooks.deliveries(made["Id"])
            self.assertIsNone(attempt["Status"])
            self.assertIn("timed out", attempt["Error"])
            self.assertIsNotNone(attempt["NextAttemptAt"])

    def test_an_endless_answer_is_cut_at_its_size_cap(self):
        with Receiver() as receiver:
            hooks = WebhookApi(self.api, self.partner)
            made = hooks.create(receiver.url)
            receiver.endless = True
            hooks.call("POST", f"/{made['Id']}/ping", expect=202)
            harness.wait_for(lambda: hooks.deliveries(made["Id"]), timeout=15,
                             what="the endless attempt to be recorded")
            [attempt] = hooks.deliveries(made["Id"])
            self.assertIn("bytes", attempt["Error"])
            self.assertIsNotNone(attempt["NextAttemptAt"])


class DestinationsAreChecked(harness.ServerTestCase):
    """Without --webhook-allow-*: https only, and never an internal address."""

    def test_internal_and_plain_http_destinations_are_refused(self):
        hooks = WebhookApi(self.api, self.partner)
        for url in ("http://example.com/hooks", "https://127.0.0.1/hooks",
                    "https://localhost/hooks", "https://[::1]/hooks",
                    "https://169.254.169.254/latest/meta-data", "https://10.1.2.3/hooks",
                    "https://user:pw@example.com/hooks"):
            resp = self.api.request("POST", WEBHOOKS, token=hooks.token,
                                    json_body={"url": url, "events": ["file.uploaded"]})
            self.assertEqual(resp.status_code, 400, f"{url}: {resp.text}")
            self.assertEqual(resp.json()["error"]["code"], "invalid_webhook_url", url)


class KillAfterComplete(unittest.TestCase):
    def test_the_event_of_an_acknowledged_complete_survives_kill9(self):
        server = harness.Server(*LOOPBACK, *RETRIES)
        server.start()
        api = harness.Api(server)
        try:
            with Receiver() as receiver:
                partner = harness.create_partner(server)
                made = WebhookApi(api, partner).create(receiver.url)
                receiver.secret = made["Secret"]
                receiver.hold.set()  # the first attempt never gets an answer
                token = api.new_user(partner)
                plan, _ = api.upload_file(token, make_audio("flac", 1.0), "flac")
                server.kill9()
                receiver.hold.clear()
                receiver.release.set()
                server.restart()
                receiver.wait_event("file.uploaded", timeout=60,
                                    where=lambda d: d["FileId"] == plan["FileId"])
        finally:
            api.close()
            server.stop()


if __name__ == "__main__":
    harness.main()
