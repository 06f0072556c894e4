"""The execution model seen from outside: a full worker queue answers 503 server_busy
with Retry-After instead of queueing without bound, /metrics shows every pool, and the
whole-file MD5 is hashed as parts arrive, so complete-upload (and a retry after a wrong
file_md5) hashes nothing more."""

import re
import threading
import unittest

import harness
from harness import CHUNK_SIZE, md5_hex


def metric(server, series):
    text = harness.http_session().get(server.base_url + "/metrics",
                                      timeout=harness.TIMEOUT).text
    match = re.search(r"^" + re.escape(series) + r" (\d+)$", text, re.M)
    if match is None:
        raise AssertionError(f"{series} not in /metrics:\n{text}")
    return int(match.group(1))


def md5_bytes(server, phase):
    return metric(server, f'audiodrop_md5_bytes_total{{phase="{phase}"}}')


class FullQueue(unittest.TestCase):
    def test_a_full_pool_answers_503_server_busy_with_retry_after(self):
        # One argon2 thread and room for one more request: of 16 logins at once, the
        # ones beyond those two are told to come back, not queued behind them.
        with harness.Server("--argon2-threads", 1, "--worker-queue", 1) as server:
            cred = harness.create_partner(server)
            start = threading.Barrier(16)
            answers, lock = [], threading.Lock()

            def login():
                # A 503 is the answer wanted here, so not through Api (which refuses 5xx).
                with harness.http_session() as http:
                    start.wait(timeout=30)
                    resp = http.post(server.api_url + "/oauth/partner/access-token",
                                     headers={"Authorization": harness.basic_auth(
                                         cred["client_id"], cred["secret_key"])},
                                     timeout=harness.TIMEOUT)
                    with lock:
                        answers.append(resp)

            threads = [threading.Thread(target=login) for _ in range(16)]
            for t in threads:
                t.start()
            for t in threads:
                t.join(timeout=60)
            self.assertEqual(len(answers), 16)
            busy = [r for r in answers if r.status_code == 503]
            self.assertTrue(busy, [r.status_code for r in answers])
            for resp in busy:
                body = harness.assert_api_error(resp, 503, "server_busy")
                self.assertIn("retry", body["error"]["message"])
                self.assertEqual(resp.headers.get("Retry-After"), "1")
            self.assertEqual({r.status_code for r in answers} - {503}, {200})
            self.assertGreaterEqual(metric(server, 'audiodrop_worker_refused_total{pool="argon2"}'),
                                    len(busy))


class Metrics(harness.ServerTestCase):
    def test_every_worker_pool_is_in_metrics(self):
        for pool in ("metadata", "storage", "hash", "argon2"):
            self.assertGreater(metric(self.server, f'audiodrop_worker_threads{{pool="{pool}"}}'), 0)
            self.assertEqual(metric(self.server, f'audiodrop_worker_queued{{pool="{pool}"}}'), 0)


class FileMd5AsPartsArrive(harness.ServerTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.token = cls.api.new_user(cls.partner)

    def wait_hashed_in_background(self, total):
        """Until the background has hashed `total` bytes in all."""
        harness.wait_for(lambda: md5_bytes(self.server, "background") >= total,
                         timeout=30, what="the whole-file MD5 to catch up")

    def test_a_wrong_file_md5_costs_no_rehash(self):
        data = harness.random_bytes(6 * CHUNK_SIZE + 1000)
        before = md5_bytes(self.server, "background")
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data, parallel=4)
        self.wait_hashed_in_background(before + len(data))
        at_complete = md5_bytes(self.server, "complete")
        for _ in range(3):
            wrong = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                      harness.part_list(etags), "mp3", "0" * 32)
            harness.assert_api_error(wrong, 400, "md5_mismatch")
        self.assertEqual(md5_bytes(self.server, "complete"), at_complete)
        done = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.json()["FileMd5"], md5_hex(data))
        self.assertEqual(md5_bytes(self.server, "complete"), at_complete)

    def test_parts_sent_last_to_first_are_hashed_once_all_arrive(self):
        data = harness.random_bytes(4 * CHUNK_SIZE + 3)
        before = md5_bytes(self.server, "background")
        plan = self.api.start_upload(self.token, len(data))
        etags = {}
        for n in range(5, 0, -1):
            etags.update(harness.put_all_parts(plan, data, only=[n]))
        self.wait_hashed_in_background(before + len(data))
        done = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.json()["FileMd5"], md5_hex(data))

    def test_a_part_sent_again_with_other_bytes_is_hashed_again(self):
        first = harness.random_bytes(3 * CHUNK_SIZE)
        plan = self.api.start_upload(self.token, len(first))
        etags = harness.put_all_parts(plan, first)
        second = first[:CHUNK_SIZE] + harness.random_bytes(CHUNK_SIZE) + first[2 * CHUNK_SIZE:]
        etags.update(harness.put_all_parts(plan, second, only=[2]))
        done = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(second))
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.json()["FileMd5"], md5_hex(second))
        self.assertTrue(harness.download(done.json()["DownloadUrl"]).content == second)


if __name__ == "__main__":
    harness.main()
