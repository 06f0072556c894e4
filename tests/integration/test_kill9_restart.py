"""Crash safety and shutdown: kill -9 loses no acknowledged part and no completed file;
SIGTERM lets an in-flight part finish and exits 0; state, tokens and keys survive a
restart on the same data dir."""

import os
import signal
import threading
import time
import unittest

import harness
from harness import CHUNK_SIZE, MiB, md5_hex, quoted


def stored_object_bytes(data_dir):
    """Bytes in the data dir outside the metadata database (parts, objects, temp files)."""
    total = 0
    for dirpath, _, files in os.walk(data_dir):
        for name in files:
            if "sqlite" not in name:
                total += os.path.getsize(os.path.join(dirpath, name))
    return total


def bytes_being_received(data_dir):
    """Bytes of part bodies the local store is receiving: its temp files (objects/tmp/,
    see src/storage/local_object_store.hpp), written as the bytes arrive."""
    total = 0
    for dirpath, _, files in os.walk(os.path.join(data_dir, "objects", "tmp")):
        for name in files:
            try:
                total += os.path.getsize(os.path.join(dirpath, name))
            except OSError:
                pass  # renamed or removed while we looked
    return total


def wait_received(server, count):
    """Until the server has written `count` bytes of the part being sent to its disk."""
    harness.wait_for(lambda: bytes_being_received(server.data_dir) >= count, timeout=30,
                     what=f"the server to receive {count} bytes of the part")


class KillAndRestart(unittest.TestCase):
    def setUp(self):
        self.server = harness.Server()
        self.server.start()
        self.api = harness.Api(self.server)
        self.partner = harness.create_partner(self.server)
        self.token = self.api.new_user(self.partner, "crash-test-user")

    def tearDown(self):
        self.api.close()
        if self.server.running():
            self.server.stop()

    def fresh_token(self):
        """A token minted after the restart, so these checks do not depend on old ones."""
        return self.api.new_user(self.partner, "crash-test-user")

    def assert_completes_to(self, token, plan, etags, data):
        """complete-upload with the right file_md5 succeeds and the bytes download intact."""
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.json()["FileMd5"], md5_hex(data))
        got = harness.download(done.json()["DownloadUrl"])
        self.assertTrue(got.status_code == 200 and got.content == data)

    def test_kill9_during_put_loses_no_acknowledged_part(self):
        data = harness.random_bytes(2 * CHUNK_SIZE + MiB)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data, only=[1, 2])
        third = data[2 * CHUNK_SIZE:]
        with harness.RawHttp(plan["Parts"][2]["PresignedUrl"]) as conn:
            conn.send_head("PUT", {"Content-Length": str(len(third))})
            conn.send(third[:len(third) // 2])
            wait_received(self.server, len(third) // 2)
            self.server.kill9()
        self.server.restart()
        # The half-received part left nothing behind (temp files are swept at start).
        self.assertLess(stored_object_bytes(self.server.data_dir), 2 * CHUNK_SIZE + 64 * 1024)

        token = self.fresh_token()
        resp = self.api.parts(token, plan["FileId"], plan["UploadId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.json()["Parts"], [
            {"PartNumber": 1, "ETag": etags[1], "Size": CHUNK_SIZE},
            {"PartNumber": 2, "ETag": etags[2], "Size": CHUNK_SIZE},
        ])
        # The URLs handed out before the crash still work.
        etags.update(harness.put_all_parts(plan, data, only=[3]))
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        got = harness.download(done.json()["DownloadUrl"])
        self.assertTrue(got.status_code == 200 and got.content == data)

    def test_kill9_right_after_acknowledged_puts_keeps_them(self):
        data = harness.random_bytes(CHUNK_SIZE + 1234)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)
        self.server.kill9()  # no pause: a 200 means durable
        self.server.restart()
        token = self.fresh_token()
        listed = self.api.parts(token, plan["FileId"], plan["UploadId"]).json()["Parts"]
        self.assertEqual({p["PartNumber"]: p["ETag"] for p in listed}, etags)
        done = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))
        self.assertEqual(done.status_code, 200, done.text)
        self.assertTrue(harness.download(done.json()["DownloadUrl"]).content == data)

    def test_kill9_after_complete_keeps_file(self):
        data = harness.random_bytes(2 * CHUNK_SIZE + 77)
        plan, done = self.api.upload_file(self.token, data)
        self.server.kill9()
        self.server.restart()
        token = self.fresh_token()
        resp = self.api.get_file(token, plan["FileId"])
        self.assertEqual(resp.status_code, 200, resp.text)
        info = resp.json()
        self.assertEqual(info["Status"], "completed")
        self.assertEqual(info["FileMd5"], md5_hex(data))
        self.assertTrue(harness.download(info["DownloadUrl"]).content == data)
        # The DownloadUrl given before the crash is still good for its 24 hours.
        self.assertTrue(harness.download(done["DownloadUrl"]).content == data)
        # And completing again answers the same.
        again = self.api.complete(token, plan["FileId"], plan["UploadId"],
                                  harness.part_list({n: quoted(md5_hex(b)) for n, b in enumerate(
                                      harness.split_parts(data, CHUNK_SIZE), start=1)}))
        self.assertEqual(again.status_code, 200, again.text)
        self.assertEqual(again.json()["FileMd5"], md5_hex(data))

    def test_kill9_during_complete_then_a_retry_completes(self):
        # A half-done complete is finished or redone; whatever the moment of the crash,
        # the retry answers 200 with the right MD5 and the bytes download intact.
        for delay in (0.0, 0.005, 0.02):
            with self.subTest(delay=delay):
                data = harness.random_bytes(2 * CHUNK_SIZE + 99)
                plan = self.api.start_upload(self.token, len(data))
                etags = harness.put_all_parts(plan, data, parallel=3)
                answers = []

                def complete():
                    api = harness.Api(self.server)
                    try:
                        answers.append(api.complete(self.token, plan["FileId"], plan["UploadId"],
                                                    harness.part_list(etags)))
                    except Exception as e:  # the crash may cut the connection
                        answers.append(e)
                    finally:
                        api.close()

                worker = threading.Thread(target=complete)
                worker.start()
                # Not a wait for a state: each round crashes the complete at another point.
                time.sleep(delay)
                self.server.kill9()
                worker.join(timeout=30)
                self.server.restart()
                self.assert_completes_to(self.fresh_token(), plan, etags, data)

    def test_kill9_while_the_file_md5_advances_keeps_it_right(self):
        # The whole-file MD5 is advanced in the background as parts arrive and saved
        # without fsync; a crash in the middle must cost a re-hash, never a wrong MD5.
        data = harness.random_bytes(12 * CHUNK_SIZE + 5)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data, parallel=4, only=range(1, 9))
        self.server.kill9()  # right after the last 200: hashing is under way
        self.server.restart()
        etags.update(harness.put_all_parts(plan, data, parallel=4, only=range(9, 14)))
        self.server.kill9()
        self.server.restart()
        self.assert_completes_to(self.fresh_token(), plan, etags, data)

    def test_kill9_during_group_commits_loses_no_acknowledged_upload(self):
        # Concurrent generate-presigned-urls share fsyncs; an answer is given only
        # after its batch committed, so every FileId handed out survives the crash.
        acknowledged, lock, stop = [], threading.Lock(), threading.Event()
        users = [f"crash-user-{i}" for i in range(8)]  # each within its open-upload quota

        def create(user_id):
            api = harness.Api(self.server)
            try:
                token = api.new_user(self.partner, user_id)
                for _ in range(90):
                    if stop.is_set():
                        return
                    resp = api.generate(token, 10 * MiB)
                    if resp.status_code == 200:
                        with lock:
                            acknowledged.append((user_id, resp.json()))
            except Exception:  # the crash cuts the connection
                return
            finally:
                api.close()

        workers = [threading.Thread(target=create, args=(u,)) for u in users]
        for w in workers:
            w.start()
        try:
            harness.wait_for(lambda: len(acknowledged) >= 200, timeout=20,
                             what="200 acknowledged creates")
        finally:
            self.server.kill9()
            stop.set()
            for w in workers:
                w.join(timeout=30)
        self.server.restart()
        tokens = {u: self.api.new_user(self.partner, u) for u in users}
        for user_id, plan in acknowledged:
            resp = self.api.get_file(tokens[user_id], plan["FileId"])
            self.assertEqual(resp.status_code, 200, f"{plan['FileId']}: {resp.text}")
            self.assertEqual(resp.json()["Status"], "uploading")
        # And the last one acknowledged takes its parts.
        user_id, last = acknowledged[-1]
        data = harness.random_bytes(10 * MiB)
        self.assert_completes_to(tokens[user_id], last, harness.put_all_parts(last, data), data)

    def test_sigterm_drains_an_inflight_put_and_exits_zero(self):
        data = harness.random_bytes(MiB)
        plan = self.api.start_upload(self.token, len(data))
        drains = len(self.server.log_events("draining"))
        with harness.RawHttp(plan["Parts"][0]["PresignedUrl"]) as conn:
            conn.send_head("PUT", {"Content-Length": str(len(data))})
            conn.send(data[:len(data) // 2])
            wait_received(self.server, len(data) // 2)  # the PUT is in flight
            self.server.proc.send_signal(signal.SIGTERM)
            harness.wait_for(lambda: len(self.server.log_events("draining")) > drains,
                             timeout=10, what="the server to start draining")
            conn.send(data[len(data) // 2:])
            status, headers, body = conn.read_response(timeout=20)
        self.assertEqual(status, 200, body[:300])
        self.assertEqual(headers.get("etag"), quoted(md5_hex(data)))
        rc = self.server.proc.wait(timeout=30)
        self.assertEqual(rc, 0, self.server.log_tail())

        self.server.start()
        token = self.fresh_token()
        listed = self.api.parts(token, plan["FileId"], plan["UploadId"]).json()["Parts"]
        self.assertEqual(listed, [{"PartNumber": 1, "ETag": quoted(md5_hex(data)), "Size": MiB}])

    def test_sigterm_with_an_idle_keep_alive_connection_exits_promptly(self):
        # An idle connection has nothing in flight: it must not hold shutdown for the
        # idle timeout (30 s) or the grace period (20 s).
        with harness.RawHttp(self.server.base_url + "/healthz") as conn:
            conn.send_head("GET", {})
            self.assertEqual(conn.read_response(timeout=10)[0], 200)
            start = time.monotonic()
            self.server.proc.send_signal(signal.SIGTERM)
            rc = self.server.proc.wait(timeout=30)
            took = time.monotonic() - start
        self.assertEqual(rc, 0, self.server.log_tail())
        self.assertLess(took, 5, f"SIGTERM took {took:.1f}s with one idle connection open")

    def test_tokens_survive_a_restart(self):
        tokens = self.api.partner_tokens(self.partner)
        self.server.restart()
        self.assertEqual(self.api.generate(self.token, 10).status_code, 200,
                         "a user token minted before the restart was refused")
        self.api.user_token(tokens["access_token"])
        resp = self.api.refresh_response(tokens["refresh_token"])
        self.assertEqual(resp.status_code, 200, resp.text)


class GeneratedStorageKeys(unittest.TestCase):
    def test_generated_storage_keys_survive_a_restart(self):
        server = harness.Server(explicit_keys=False)
        with server:
            api = harness.Api(server)
            token = api.new_user(harness.create_partner(server))
            data = harness.random_bytes(1000)
            _, done = api.upload_file(token, data)
            server.kill9()
            server.restart()
            got = harness.download(done["DownloadUrl"])
            self.assertEqual(got.status_code, 200, got.content[:300])
            self.assertTrue(got.content == data)
            api.close()


if __name__ == "__main__":
    harness.main()
