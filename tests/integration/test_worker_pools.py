"""The execution model seen from outside: a full worker queue answers 503 server_busy
with Retry-After instead of queueing without bound, /metrics shows every pool, and the
whole-file MD5 is hashed as parts arrive, so complete-upload (and a retry after a wrong
file_md5) hashes nothing more."""

import os
import re
import sqlite3
import unittest
from concurrent.futures import ThreadPoolExecutor

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


# A well-formed argon2id hash (of no secret anyone sends) whose time cost makes one
# verification take seconds (about 2.5 s on an idle core) instead of ~50 ms: the cost
# travels in the stored string.
SLOW_SECRET_HASH = ("$argon2id$v=19$m=19456,t=100,p=1$AAAAAAAAAAAAAAAAAAAAAA$"
                    "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA")


def store_secret_hash(server, client_id, encoded):
    """Replaces a partner's stored secret hash in the server's SQLite database."""
    path = os.path.join(server.data_dir, "metadata.sqlite3")
    with sqlite3.connect(path, timeout=30) as db:
        changed = db.execute("UPDATE partners SET secret_hash = ? WHERE client_id = ?",
                             (encoded, client_id)).rowcount
    db.close()
    assert changed == 1, f"no partner {client_id} in {path}"


def login(server, cred):
    # A 503 is an answer wanted here, so not through Api (which refuses 5xx).
    with harness.http_session() as http:
        return http.post(server.api_url + "/oauth/partner/access-token",
                         headers={"Authorization": harness.basic_auth(cred["client_id"],
                                                                      cred["secret_key"])},
                         timeout=harness.TIMEOUT)


class FullQueue(unittest.TestCase):
    def test_a_full_pool_answers_503_server_busy_with_retry_after(self):
        # One argon2 thread and room for one more login. A login whose stored hash is
        # slow holds the thread for seconds, a second one waits in the queue, and a
        # third is told to come back instead of queueing behind them.
        with harness.Server("--argon2-threads", 1, "--worker-queue", 1) as server:
            slow, cred = harness.create_partner(server), harness.create_partner(server)
            store_secret_hash(server, slow["client_id"], SLOW_SECRET_HASH)
            refused = 'audiodrop_worker_refused_total{pool="argon2"}'
            refused_before = metric(server, refused)
            with ThreadPoolExecutor(max_workers=2) as pool:
                holding = pool.submit(login, server, slow)
                harness.wait_for(
                    lambda: metric(server, 'audiodrop_worker_busy{pool="argon2"}') == 1,
                    timeout=10, what="the slow login to hold the argon2 thread")
                queued = pool.submit(login, server, cred)
                harness.wait_for(
                    lambda: metric(server, 'audiodrop_worker_queued{pool="argon2"}') == 1,
                    timeout=10, what="the second login to wait in the argon2 queue")
                resp = login(server, cred)
                body = harness.assert_api_error(resp, 503, "server_busy")
                self.assertIn("retry", body["error"]["message"])
                self.assertEqual(resp.headers.get("Retry-After"), "1")
                self.assertEqual(metric(server, refused), refused_before + 1)
                # The two let in are served: the slow one is a wrong secret after all.
                harness.assert_api_error(holding.result(timeout=60), 401, "invalid_client")
                self.assertEqual(queued.result(timeout=60).status_code, 200)


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
