"""The hand-off on two replicas sharing PostgreSQL and Ceph RGW: each event of 50
completes is delivered exactly once when nothing fails, an event whose delivering
replica is killed mid-send is delivered by the other, and a 2 GiB wav on S3 is probed
by ranged GETs that read a few MiB."""

import struct
import unittest
from concurrent.futures import ThreadPoolExecutor

import scaleout_harness as sh  # first: it puts the integration harness on sys.path
import harness  # noqa: E402
from harness import MiB, Api, create_partner, md5_hex, part_list, put_part, quoted
from scaleout_harness import setUpModule, tearDownModule  # noqa: F401  (run by unittest)

from audio_files import make_audio, make_png  # noqa: E402  (tests/integration, on sys.path)
from webhook_receiver import Receiver  # noqa: E402

LOOPBACK = ("--webhook-allow-http", "--webhook-allow-private", "--webhook-timeout", "2",
            "--webhook-retry-schedule", "500ms,500ms,500ms")
WEBHOOKS = "/open/partner/webhooks"


def subscribe(api, partner, receiver, events=("file.uploaded",)):
    token = api.partner_tokens(partner)["access_token"]
    resp = api.request("POST", WEBHOOKS, token=token,
                       json_body={"url": receiver.url, "events": list(events)})
    assert resp.status_code == 201, resp.text
    receiver.secret = resp.json()["Secret"]
    return resp.json()


class WebhooksOnTwoReplicas(sh.ReplicaPairTestCase):
    replica_args = LOOPBACK

    def delivered_count(self, webhook_id):
        return int(sh.backends.postgres.query(
            "SELECT count(*) FROM webhook_deliveries WHERE state = 'delivered' "
            f"AND subscription_id = '{webhook_id}'"))

    def test_each_of_50_events_is_delivered_exactly_once(self):
        partner = create_partner(self.a)
        audio = make_audio("mp3", 0.5)
        with Receiver() as receiver:
            made = subscribe(self.api_a, partner, receiver)
            tokens = [api.new_user(partner) for api in (self.api_a, self.api_b)]
            files = set()
            for i in range(50):  # alternate replicas: both write events, both may send them
                api = (self.api_a, self.api_b)[i % 2]
                plan, _ = api.upload_file(tokens[i % 2], audio, "mp3")
                files.add(plan["FileId"])
            receiver.wait_event("file.uploaded", count=50, timeout=60)
            # Once all 50 are recorded delivered no replica sends any of them again.
            harness.wait_for(lambda: self.delivered_count(made["Id"]) == 50, timeout=30,
                             what="50 deliveries recorded as delivered")
            events = receiver.events("file.uploaded")
            self.assertEqual(len(events), 50, "an event arrived twice")
            self.assertEqual({e.json["data"]["FileId"] for e in events}, files)
            self.assertEqual(len({e.json["id"] for e in events}), 50)
            self.assertEqual(receiver.rejected, [])
            for e in events[:3]:
                self.assertAlmostEqual(e.json["data"]["Audio"]["DurationSeconds"], 0.5,
                                       delta=0.05)

    def test_an_event_whose_sender_is_killed_is_sent_by_the_other_replica(self):
        partner = create_partner(self.a)
        self.b.stop()  # only replica a can claim the event
        try:
            with Receiver() as receiver:
                subscribe(self.api_a, partner, receiver)
                receiver.hold.set()
                token = self.api_a.new_user(partner)
                plan, _ = self.api_a.upload_file(token, make_audio("wav", 0.3), "wav")
                harness.wait_for(lambda: receiver.requests >= 1, timeout=30,
                                 what="replica a to start sending")
                self.a.kill9()
                receiver.hold.clear()
                receiver.release.set()
                self.b.start()  # claims it once a's lease (timeout + 10 s) has run out
                [delivery] = receiver.wait_event(
                    "file.uploaded", timeout=60, where=lambda d: d["FileId"] == plan["FileId"])
                self.assertEqual(delivery.json["data"]["FileType"], "wav")
        finally:
            for server in (self.a, self.b):
                if not server.running():
                    server.start()


class ProbeOnS3(unittest.TestCase):
    def test_enforce_discards_bytes_that_are_not_the_declared_audio(self):
        server = sh.backends.replica("--content-check", "enforce").start()
        api = Api(server)
        try:
            token = api.new_user(create_partner(server))
            png = make_png()
            plan = api.start_upload(token, len(png), "mp3")
            etags = harness.put_all_parts(plan, png)
            done = api.complete(token, plan["FileId"], plan["UploadId"], part_list(etags), "mp3")
            harness.assert_api_error(done, 422, "content_mismatch")
            message = done.json()["error"]["message"]
            self.assertIn("PNG", message)
            self.assertIn("discarded", message)
            # S3 cannot reopen an assembled upload: it is over, and its bytes are gone.
            self.assertEqual(api.get_file(token, plan["FileId"]).json()["Status"], "aborted")
            self.assertFalse(sh.backends.object_exists(plan["FileId"] + ".mp3"))
            good = make_audio("mp3", 1.0)
            _, completed = api.upload_file(token, good, "mp3")
            self.assertEqual(completed["FileMd5"], md5_hex(good))
        finally:
            api.close()
            server.stop()

    def test_a_2_gib_wav_is_probed_reading_a_few_mib(self):
        server = sh.backends.replica().start()
        api = Api(server)
        try:
            size = 2 * 1024 * MiB
            rate, channels, bits = 44100, 1, 16
            data_bytes = size - 44
            header = (b"RIFF" + struct.pack("<I", size - 8) + b"WAVEfmt "
                      + struct.pack("<IHHIIHH", 16, 1, channels, rate,
                                    rate * channels * bits // 8, channels * bits // 8, bits)
                      + b"data" + struct.pack("<I", data_bytes))
            token = api.new_user(create_partner(server))
            plan = api.start_upload(token, size, "wav")
            chunk = plan["ChunkSize"]
            zeros = bytes(chunk)
            urls = {p["PartNumber"]: p["PresignedUrl"] for p in plan["Parts"]}
            last = len(urls)

            def body(n):
                if n == 1:
                    return header + zeros[len(header):]
                return zeros if n < last else zeros[:size - chunk * (last - 1)]

            def one(n):
                b = body(n)
                resp = put_part(urls[n], b)
                assert resp.status_code == 200, f"part {n}: {resp.status_code}"
                assert resp.headers["ETag"] == quoted(md5_hex(b))
                return n, resp.headers["ETag"]

            with ThreadPoolExecutor(max_workers=4) as pool:
                etags = dict(pool.map(one, sorted(urls)))
            before = harness.metric(server, "audiodrop_probe_bytes_read_total")
            done = api.complete(token, plan["FileId"], plan["UploadId"], part_list(etags), "wav")
            self.assertEqual(done.status_code, 200, done.text)
            read = harness.metric(server, "audiodrop_probe_bytes_read_total") - before
            self.assertLess(read, 8 * MiB, f"the probe read {read} bytes of 2 GiB")
            audio = api.get_file(token, plan["FileId"]).json()["Audio"]
            self.assertEqual(audio["Format"], "wav")
            self.assertAlmostEqual(audio["DurationSeconds"], data_bytes / (rate * 2), delta=0.05)
        finally:
            api.close()
            server.stop()


if __name__ == "__main__":
    harness.main()
