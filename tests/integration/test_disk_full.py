"""A full disk, for real: the data dir is a small tmpfs filled to the last page.

Every call that has to write answers 507 (S3 InsufficientStorage on the storage
endpoint, storage_full on the API), never 500; reads go on; nothing acknowledged is
lost; once space returns, uploads go on without a restart; SQLite stays intact; the
server stays healthy and logs each failure once, with its request.

The free space is set exactly (fill to ENOSPC, then give back a counted number of
pages), so each call has one right answer. Mounting needs root: the tests skip
otherwise.
"""

import contextlib
import errno
import os
import re
import sqlite3
import subprocess
import tempfile
import unittest
import urllib.parse


import harness
from harness import CHUNK_SIZE, KiB, MiB, md5_hex, quoted
from test_worker_pools import md5_bytes

TMPFS_SIZE = 48 * MiB
# tmpfs allocates in pages. The room counted out below (one page holds a small file
# but not a SQLite commit of 4 KiB pages) assumes the usual 4 KiB.
PAGE = os.sysconf("SC_PAGE_SIZE")
# The free-space reserve refuses new uploads before the disk is full: off, so that the
# calls meet the real ENOSPC. (A file bigger than the free space is still refused.)
NO_RESERVE = ("--min-free-bytes", 0)


def free_bytes(path):
    st = os.statvfs(path)
    return st.f_bavail * st.f_frsize


def mount_tmpfs(size):
    """A fresh tmpfs of `size` bytes on a new temp dir; SkipTest when it cannot be had."""
    mount_point = tempfile.mkdtemp(prefix="audiodrop-itest-tmpfs-")
    try:
        proc = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs",
                               mount_point], capture_output=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired) as e:
        os.rmdir(mount_point)
        raise unittest.SkipTest(f"cannot run mount: {e}")
    if proc.returncode != 0:
        os.rmdir(mount_point)
        why = (proc.stderr.decode(errors="replace").strip().splitlines() or ["no message"])[0]
        raise unittest.SkipTest(f"mounting a tmpfs failed (these tests need root): {why}")
    return mount_point


def unmount(mount_point):
    # Lazy, so that a file a failed test left open cannot keep the mount alive.
    subprocess.run(["umount", "-l", mount_point], capture_output=True, timeout=30)
    os.rmdir(mount_point)


class Filler:
    """One file that takes up the free space of a filesystem, then gives it back in
    counted pages."""

    def __init__(self, directory):
        self.directory = directory
        self.path = os.path.join(directory, "filler")

    def fill(self):
        """Writes until ENOSPC (a bounded loop) and checks nothing is left free."""
        chunk = b"\xa5" * MiB
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        try:
            for _ in range(2 * TMPFS_SIZE // len(chunk) + 2):
                try:
                    os.write(fd, chunk)  # a short write when the disk is nearly full
                except OSError as e:
                    if e.errno != errno.ENOSPC:
                        raise
                    break
            else:
                raise AssertionError(f"{self.path} never filled the disk")
        finally:
            os.close(fd)
        left = free_bytes(self.directory)
        assert left == 0, f"{left} bytes still free after filling"

    def leave_free(self, count):
        """Frees pages of the filler until exactly `count` bytes (whole pages) are free."""
        assert count % PAGE == 0, count
        shortfall = count - free_bytes(self.directory)
        assert shortfall >= 0, f"more than {count} bytes are free already"
        os.truncate(self.path, os.path.getsize(self.path) - shortfall)
        left = free_bytes(self.directory)
        assert left == count, f"{left} bytes free, wanted exactly {count}"

    def remove(self):
        with contextlib.suppress(FileNotFoundError):
            os.remove(self.path)


@contextlib.contextmanager
def full_disk_answers():
    """While the disk is full, 507 is a right answer: let it through harness.no_5xx
    (which Api and put_part pass every answer to); any other 5xx still fails."""
    strict = harness.no_5xx
    harness.no_5xx = lambda resp: resp if resp.status_code == 507 else strict(resp)
    try:
        yield
    finally:
        harness.no_5xx = strict


def storage_upload_id(plan):
    """The local store's upload id (its directory's name) from a plan's first URL."""
    query = urllib.parse.urlsplit(plan["Parts"][0]["PresignedUrl"]).query
    return dict(urllib.parse.parse_qsl(query))["uploadId"]


def wait_hashed(server, plan, parts):
    """Until the background MD5 has recorded `parts` parts of the plan's upload, so
    that no write of the server's is still pending when the free space is counted."""
    path = os.path.join(server.data_dir, "objects", "uploads", storage_upload_id(plan),
                        "md5.frontier")

    def recorded():
        try:
            # One record of 160 bytes per part (src/storage/md5_frontier.cpp).
            return os.path.getsize(path) == parts * 160
        except OSError:
            return False

    harness.wait_for(recorded, timeout=30, what=f"{parts} parts hashed in {path}")


def integrity_check(server):
    path = os.path.join(server.data_dir, "metadata.sqlite3")
    db = sqlite3.connect(path, timeout=30)
    try:
        return [row[0] for row in db.execute("PRAGMA integrity_check")]
    finally:
        db.close()


def space_failure_lines(server):
    """Log lines that speak of the disk being full."""
    with open(server.log_path, "rb") as f:
        lines = f.read().decode(errors="replace").splitlines()
    pattern = re.compile(r"no space left|disk is full|free space|storage.?full|insufficient", re.I)
    return [line for line in lines if pattern.search(line)]


class DiskFull(unittest.TestCase):
    def setUp(self):
        self.mount_point = mount_tmpfs(TMPFS_SIZE)
        self.addCleanup(unmount, self.mount_point)
        self.filler = Filler(self.mount_point)
        self.server = harness.Server(*NO_RESERVE, data_dir=os.path.join(self.mount_point, "data"))
        self.addCleanup(self.stop_server)
        self.server.start()
        self.api = harness.Api(self.server)
        self.addCleanup(self.api.close)
        self.partner = harness.create_partner(self.server)
        self.partner_tokens = self.api.partner_tokens(self.partner)
        self.token = self.api.user_token(self.partner_tokens["access_token"], "disk-full-user")
        # What each failure for want of space is logged under: the request ids of the
        # answers that were 507, and a failed start's line.
        self.logged = []

    def stop_server(self):
        if self.server.running():
            self.server.kill9()

    # Expected refusals -------------------------------------------------------------
    def assert_storage_full(self, resp):
        body = harness.assert_api_error(resp, 507, "storage_full")
        self.logged.append(body["request_id"])

    def assert_insufficient_storage(self, resp):
        harness.assert_s3_error(resp, 507, "InsufficientStorage")
        self.logged.append(resp.headers["x-amz-request-id"])

    def assert_logged_once_each(self):
        """Each failure is one log line (its request's), and nothing else speaks of it."""
        lines = space_failure_lines(self.server)
        for mark in self.logged:
            mine = [line for line in lines if mark in line]
            self.assertEqual(len(mine), 1, f"{mark}: {mine}")
        self.assertEqual(len(lines), len(self.logged), "\n".join(lines))

    # Flows --------------------------------------------------------------------------
    def put(self, plan, data, number):
        body = harness.split_parts(data, plan["ChunkSize"])[number - 1]
        return harness.put_part(plan["Parts"][number - 1]["PresignedUrl"], body)

    def complete(self, plan, etags, data):
        return self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 harness.part_list(etags), "mp3", md5_hex(data))

    def assert_completes_to(self, plan, etags, data):
        done = self.complete(plan, etags, data)
        self.assertEqual(done.status_code, 200, done.text)
        self.assertEqual(done.json()["FileMd5"], md5_hex(data))
        self.assert_downloads(done.json()["DownloadUrl"], data)

    def assert_downloads(self, url, data):
        got = harness.download(url)
        self.assertEqual(got.status_code, 200)
        self.assertTrue(got.content == data, "downloaded bytes differ")

    def first_of_two_parts_acknowledged(self):
        """(data, plan, {1: ETag}): an upload with its first part acknowledged and read
        by the background MD5, and its last part still to come."""
        data = harness.random_bytes(CHUNK_SIZE + 10)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data, only=[1])
        wait_hashed(self.server, plan, 1)
        return data, plan, etags

    def finish(self):
        """Stops the server cleanly (its log is then complete), checks the log and the
        SQLite database, page by page."""
        self.server.stop()
        self.assert_logged_once_each()
        self.assertEqual(integrity_check(self.server), ["ok"])

    # Tests --------------------------------------------------------------------------
    def test_a_full_disk_answers_507_and_loses_nothing_acknowledged(self):
        done_data = harness.random_bytes(MiB + 17)
        done_plan, done = self.api.upload_file(self.token, done_data)
        # Two parts acknowledged, the last one still to come.
        open_data = harness.random_bytes(2 * CHUNK_SIZE + MiB)
        open_plan = self.api.start_upload(self.token, len(open_data))
        etags = harness.put_all_parts(open_plan, open_data, only=[1, 2])
        # Every part sent, only the complete to come.
        sent_data = harness.random_bytes(300 * KiB)
        sent_plan = self.api.start_upload(self.token, len(sent_data))
        sent_etags = harness.put_all_parts(sent_plan, sent_data)
        # Started, to be aborted.
        doomed = self.api.start_upload(self.token, 1000)
        # Completed, to be deleted: erasing its bytes frees fewer pages than erasing
        # its record needs.
        tiny_plan, _ = self.api.upload_file(self.token, b"x")
        wait_hashed(self.server, open_plan, 2)
        wait_hashed(self.server, sent_plan, 1)

        with harness.HealthzWatch(self.server, interval=harness.POLL_INTERVAL) as health, full_disk_answers():
            self.filler.fill()
            # The storage endpoint: the part cannot be stored.
            self.assert_insufficient_storage(self.put(open_plan, open_data, 3))
            # A part sent again over an acknowledged one leaves the acknowledged one.
            self.assert_insufficient_storage(
                self.put(open_plan, harness.random_bytes(len(open_data)), 1))
            # The API: every call that writes.
            self.assert_storage_full(self.api.generate(self.token, 1000))
            self.assert_storage_full(self.api.partner_token_response(
                self.partner["client_id"], self.partner["secret_key"]))
            refresh_token = self.partner_tokens["refresh_token"]
            self.assert_storage_full(self.api.refresh_response(refresh_token))
            self.assert_storage_full(self.complete(sent_plan, sent_etags, sent_data))
            self.assert_storage_full(self.api.abort(self.token, doomed["FileId"],
                                                    doomed["UploadId"]))
            self.assert_storage_full(self.api.delete_file(self.token, tiny_plan["FileId"]))
            # What only reads goes on.
            self.api.user_token(self.partner_tokens["access_token"], "disk-full-user")
            listed = self.api.parts(self.token, open_plan["FileId"], open_plan["UploadId"])
            self.assertEqual(listed.status_code, 200, listed.text)
            self.assertEqual({p["PartNumber"]: p["ETag"] for p in listed.json()["Parts"]}, etags)
            self.assert_downloads(done["DownloadUrl"], done_data)
            info = self.api.get_file(self.token, done_plan["FileId"])
            self.assertEqual(info.status_code, 200, info.text)
            self.assertEqual(info.json()["FileMd5"], md5_hex(done_data))

            # Room for half the part: it is refused all the same, and what it wrote of
            # itself is given back.
            self.filler.leave_free(512 * KiB)
            self.assert_insufficient_storage(self.put(open_plan, open_data, 3))
            harness.wait_for(lambda: free_bytes(self.mount_point) == 512 * KiB, timeout=10,
                             what="the refused part's temp file to go")

            # Space returns: everything goes on, with no restart.
            self.filler.remove()
            etags.update(harness.put_all_parts(open_plan, open_data, only=[3]))
            self.assert_completes_to(open_plan, etags, open_data)
            self.assert_completes_to(sent_plan, sent_etags, sent_data)
            # The refused refresh did not spend the token.
            refreshed = self.api.refresh_response(refresh_token)
            self.assertEqual(refreshed.status_code, 200, refreshed.text)
            self.api.partner_tokens(self.partner)
            aborted = self.api.abort(self.token, doomed["FileId"], doomed["UploadId"])
            self.assertEqual(aborted.status_code, 200, aborted.text)
            deleted = self.api.delete_file(self.token, tiny_plan["FileId"])
            self.assertEqual(deleted.status_code, 200, deleted.text)
            harness.assert_api_error(self.api.get_file(self.token, tiny_plan["FileId"]), 404,
                                     "file_not_found")
            new_data = harness.random_bytes(CHUNK_SIZE + 3)
            _, new_done = self.api.upload_file(self.token, new_data)
            self.assert_downloads(new_done["DownloadUrl"], new_data)
            self.assert_downloads(done["DownloadUrl"], done_data)

        self.assertGreater(health.polls, 0)
        self.assertEqual(health.bad, [])
        self.finish()

    def test_a_complete_stored_but_not_recorded_finishes_when_space_returns(self):
        # One page free: room for the store's manifest, none for the metadata's commit
        # (several pages of write-ahead log). The object is built, the record is not.
        data = harness.random_bytes(300 * KiB)
        plan = self.api.start_upload(self.token, len(data))
        etags = harness.put_all_parts(plan, data)
        wait_hashed(self.server, plan, 1)
        object_key = urllib.parse.urlsplit(plan["Parts"][0]["PresignedUrl"]).path.split("/")[-1]
        manifest = os.path.join(self.server.data_dir, "objects", "objects", object_key,
                                "manifest.json")

        with harness.HealthzWatch(self.server, interval=harness.POLL_INTERVAL) as health, full_disk_answers():
            self.filler.fill()
            self.filler.leave_free(PAGE)
            self.assert_storage_full(self.complete(plan, etags, data))
            self.assertTrue(os.path.exists(manifest), "the store did not build the object")
            # A retry while the disk is still full is refused the same way.
            self.assert_storage_full(self.complete(plan, etags, data))
            # Past the free-space check (the file fits), refused by the metadata's commit.
            self.filler.leave_free(PAGE)
            self.assert_storage_full(self.api.generate(self.token, PAGE))

            self.filler.remove()
            self.assert_completes_to(plan, etags, data)
            again = self.api.generate(self.token, PAGE)
            self.assertEqual(again.status_code, 200, again.text)

        self.assertEqual(health.bad, [])
        self.finish()

    def test_a_refused_refresh_keeps_its_refresh_token(self):
        # However little room there is, a refresh answered 507 did not happen: the
        # refresh token it was given still works once space returns.
        with full_disk_answers():
            self.filler.fill()
            for pages in range(4):
                self.filler.leave_free(pages * PAGE)
                resp = self.api.refresh_response(self.partner_tokens["refresh_token"])
                if resp.status_code == 200:
                    break
                self.assert_storage_full(resp)
            self.filler.remove()
        if resp.status_code != 200:
            resp = self.api.refresh_response(self.partner_tokens["refresh_token"])
        self.assertEqual(resp.status_code, 200, resp.text)
        self.finish()

    def put_into_exact_room(self, plan, data, number, room):
        """PUTs a part with exactly `room` bytes free, checks it is acknowledged, and
        waits until the background MD5 has read it (and tried to record that, on a disk
        left with no page free)."""
        body = harness.split_parts(data, plan["ChunkSize"])[number - 1]
        hashed = md5_bytes(self.server, "background")
        self.filler.leave_free(room)
        resp = self.put(plan, data, number)
        self.assertEqual(resp.status_code, 200, resp.text)
        self.assertEqual(resp.headers["ETag"], quoted(md5_hex(body)))
        self.assertEqual(free_bytes(self.mount_point), 0)
        harness.wait_for(lambda: md5_bytes(self.server, "background") >= hashed + len(body),
                         timeout=30, what=f"part {number} hashed in the background")
        return {number: resp.headers["ETag"]}

    def test_parts_acknowledged_while_the_md5_frontier_cannot_be_written_complete_right(self):
        # Each part gets exactly its own room (and the upload directory's record for
        # the first): acknowledged, with no page left for the background MD5's record.
        data = harness.random_bytes(2 * CHUNK_SIZE + MiB)
        plan = self.api.start_upload(self.token, len(data))
        etags = {}
        with full_disk_answers():
            self.filler.fill()
            # Room for the first part's bytes but not for its upload's directory record:
            # refused, and nothing of it stays behind.
            self.filler.leave_free(CHUNK_SIZE)
            self.assert_insufficient_storage(self.put(plan, data, 1))
            harness.wait_for(lambda: free_bytes(self.mount_point) == CHUNK_SIZE, timeout=10,
                             what="the refused part's temp file to go")
            etags.update(self.put_into_exact_room(plan, data, 1, CHUNK_SIZE + PAGE))
            etags.update(self.put_into_exact_room(plan, data, 2, CHUNK_SIZE))
            self.assert_insufficient_storage(self.put(plan, data, 3))
            self.filler.remove()
        etags.update(harness.put_all_parts(plan, data, only=[3]))
        self.assert_completes_to(plan, etags, data)
        # The frontier as left on disk (no record for part 1, records for the parts
        # after it) misleads no one after a crash either.
        data2 = harness.random_bytes(2 * CHUNK_SIZE + 5)
        plan2 = self.api.start_upload(self.token, len(data2))
        self.filler.fill()
        etags2 = self.put_into_exact_room(plan2, data2, 1, CHUNK_SIZE + PAGE)
        self.filler.remove()
        etags2.update(harness.put_all_parts(plan2, data2, only=[2, 3]))
        wait_hashed(self.server, plan2, 3)
        self.server.kill9()
        self.server.restart()
        self.assert_completes_to(plan2, etags2, data2)
        self.finish()

    def test_a_server_stopped_or_killed_on_a_full_disk_starts_again_and_goes_on(self):
        data, plan, etags = self.first_of_two_parts_acknowledged()
        with full_disk_answers():
            self.filler.fill()
            self.server.stop()  # and it exits 0
            self.server.start()
            self.server.kill9()
            self.server.start()
            self.assert_insufficient_storage(self.put(plan, data, 2))
            self.assert_storage_full(self.api.partner_token_response(
                self.partner["client_id"], self.partner["secret_key"]))
            self.filler.remove()
        etags.update(harness.put_all_parts(plan, data, only=[2]))
        self.assert_completes_to(plan, etags, data)
        self.finish()

    def test_a_server_started_on_a_full_disk_says_so_and_starts_once_space_returns(self):
        data, plan, etags = self.first_of_two_parts_acknowledged()
        self.server.stop()  # SQLite folds its write-ahead log in and removes it
        self.filler.fill()
        # SQLite cannot make the log's shared-memory index: no room for it.
        with self.assertRaisesRegex(RuntimeError, "exited with 1 while starting"):
            self.server.start()
        failed = self.server.log_events("cannot start")
        self.assertEqual([e.get("code") for e in failed], ["metadata_storage_full"])
        self.assertIn("No space left on device", failed[0].get("error", ""))
        self.logged.append('msg="cannot start"')
        self.filler.remove()
        self.server.start()
        etags.update(harness.put_all_parts(plan, data, only=[2]))
        self.assert_completes_to(plan, etags, data)
        self.finish()


if __name__ == "__main__":
    harness.main()
