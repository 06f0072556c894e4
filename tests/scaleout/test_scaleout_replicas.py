"""Two audiodrop-server replicas on one PostgreSQL and one S3 (Ceph RGW): an upload
started on one finishes on the other, races between them end in exactly one outcome,
and a replica killed with -9 loses nothing the other cannot finish."""

import glob
import json
import os
import random
import signal
import subprocess
import tempfile
import threading
import time
import unittest

import scaleout_harness as sh  # first: it puts the integration harness on sys.path
import harness  # noqa: E402
from harness import (MiB, Api, assert_api_error, create_partner, download, md5_hex,
                     part_list, put_all_parts, random_bytes)

from scaleout_harness import setUpModule, tearDownModule  # noqa: F401  (run by unittest)


class TwoReplicas(sh.ReplicaPairTestCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.cred = create_partner(cls.a)

    @classmethod
    def tearDownClass(cls):
        super().tearDownClass()
        for server in (cls.a, cls.b):
            # Stateless: a replica on PostgreSQL and S3 keeps nothing on its own disk.
            leftovers = os.listdir(server.data_dir)
            server.cleanup()
            assert leftovers == [], f"replica wrote {leftovers} into its data dir"

    def user(self, api=None):
        return (api or self.api_a).new_user(self.cred)

    def test_start_on_one_replica_finish_on_the_other(self):
        token = self.user(self.api_a)
        data = random_bytes(12 * MiB + 17)
        plan = self.api_a.start_upload(token, len(data))
        self.assertEqual(len(plan["Parts"]), 3)
        for part in plan["Parts"]:  # bytes go straight to S3, never through a replica
            self.assertTrue(part["PresignedUrl"].startswith(sh.backends.rgw.endpoint + "/"))
        etags = put_all_parts(plan, data, parallel=3)

        listed = self.api_b.parts(token, plan["FileId"], plan["UploadId"])
        self.assertEqual(listed.status_code, 200, listed.text)
        self.assertEqual([p["ETag"] for p in listed.json()["Parts"]],
                         [etags[n] for n in sorted(etags)])

        resp = self.api_b.complete(token, plan["FileId"], plan["UploadId"], part_list(etags),
                                   file_md5=md5_hex(data))
        self.assertEqual(resp.status_code, 200, resp.text)
        done = resp.json()
        self.assertEqual(done["FileMd5"], md5_hex(data))
        got = download(done["DownloadUrl"])
        self.assertEqual(got.status_code, 200)
        self.assertEqual(got.content, data)
        self.assertEqual(got.headers["Content-Type"], "audio/mpeg")  # as the embedded store
        ranged = download(done["DownloadUrl"], headers={"Range": "bytes=5242880-5242889"})
        self.assertEqual(ranged.status_code, 206)
        self.assertEqual(ranged.content, data[5 * MiB:5 * MiB + 10])

        info = self.api_a.get_file(token, plan["FileId"])
        self.assertEqual(info.status_code, 200, info.text)
        self.assertEqual(info.json()["Status"], "completed")
        # A retry on the first replica answers the same result.
        again = self.api_a.complete(token, plan["FileId"], plan["UploadId"], part_list(etags))
        self.assertEqual(again.status_code, 200, again.text)
        self.assertEqual(again.json()["FileMd5"], done["FileMd5"])

    def test_tokens_of_one_replica_work_on_the_other(self):
        tokens = self.api_a.partner_tokens(self.cred)
        user_token = self.api_b.user_token(tokens["access_token"])
        self.assertEqual(self.api_a.generate(user_token, 1000).status_code, 200)
        refreshed = self.api_b.refresh_response(tokens["refresh_token"])
        self.assertEqual(refreshed.status_code, 200, refreshed.text)
        # The refresh token was spent in the shared database: the other replica refuses it.
        assert_api_error(self.api_a.refresh_response(tokens["refresh_token"]), 401,
                         "invalid_refresh_token")

    def test_concurrent_completes_on_both_replicas_agree(self):
        for round_ in range(4):
            token = self.user()
            data = random_bytes(5 * MiB + 1000 * round_ + 1)
            plan = self.api_a.start_upload(token, len(data))
            etags = put_all_parts(plan, data, parallel=2)
            body = part_list(etags)

            def complete(api):
                return api.complete(token, plan["FileId"], plan["UploadId"], body)

            answers = _race_across([(server, complete) for server in (self.a, self.b) * 2])
            for r in answers:
                self.assertEqual(r.status_code, 200, r.text)
            self.assertEqual({r.json()["FileMd5"] for r in answers}, {md5_hex(data)})
            self.assertEqual(download(answers[0].json()["DownloadUrl"]).content, data)
            self.assertNotIn(sh.s3_upload_id(plan), sh.backends.open_multipart_upload_ids())

    def open_upload_with_parts(self):
        token = self.user()
        data = random_bytes(5 * MiB + 7)
        plan = self.api_a.start_upload(token, len(data))
        return token, data, plan, put_all_parts(plan, data, parallel=2)

    def test_abort_on_one_replica_then_complete_on_the_other_is_upload_aborted(self):
        token, _, plan, etags = self.open_upload_with_parts()
        self.assertEqual(self.api_b.abort(token, plan["FileId"], plan["UploadId"]).status_code,
                         200)
        late = self.api_a.complete(token, plan["FileId"], plan["UploadId"], part_list(etags))
        assert_api_error(late, 409, "upload_aborted")
        self.assertEqual(self.api_a.get_file(token, plan["FileId"]).json()["Status"], "aborted")
        self.assertFalse(sh.backends.object_exists(sh.object_key(plan)))
        self.assertNotIn(sh.s3_upload_id(plan), sh.backends.open_multipart_upload_ids())

    def test_complete_on_one_replica_then_abort_on_the_other_is_upload_completed(self):
        token, data, plan, etags = self.open_upload_with_parts()
        done = self.api_a.complete(token, plan["FileId"], plan["UploadId"], part_list(etags))
        self.assertEqual(done.status_code, 200, done.text)
        assert_api_error(self.api_b.abort(token, plan["FileId"], plan["UploadId"]), 409,
                         "upload_completed")
        self.assertEqual(self.api_b.get_file(token, plan["FileId"]).json()["Status"],
                         "completed")
        self.assertEqual(download(done.json()["DownloadUrl"]).content, data)

    def test_complete_racing_abort_has_one_outcome(self):
        # Which of the two wins a race is not ours to choose (the two tests above fix
        # the order); whichever it is, the other is refused and the state agrees. The
        # abort starts later and later, so the moments in between (abort during S3's
        # complete, during the read-back) are hit too.
        for abort_delay in (0, 0.02, 0.05, 0.1, 0.2, 0.4, 3.0):
            token, data, plan, etags = self.open_upload_with_parts()

            def late_abort(api):
                time.sleep(abort_delay)  # an offset into the complete, not a wait
                return api.abort(token, plan["FileId"], plan["UploadId"])

            complete, abort = _race_across([
                (self.a, lambda api: api.complete(token, plan["FileId"], plan["UploadId"],
                                                  part_list(etags))),
                (self.b, late_abort),
            ])
            status = self.api_a.get_file(token, plan["FileId"]).json()["Status"]
            if complete.status_code == 200:
                assert_api_error(abort, 409, "upload_completed")
                self.assertEqual(status, "completed")
                self.assertEqual(download(complete.json()["DownloadUrl"]).content, data)
            else:
                self.assertEqual(abort.status_code, 200, abort.text)
                assert_api_error(complete, 409, "upload_aborted")
                self.assertEqual(status, "aborted")
                self.assertFalse(sh.backends.object_exists(sh.object_key(plan)))
            self.assertNotIn(sh.s3_upload_id(plan), sh.backends.open_multipart_upload_ids())

    def test_open_upload_quota_holds_across_replicas(self):
        # Two connections for four racers each: callers also queue for the pool.
        limits = ("--max-open-uploads-per-user", "3", "--database-connections", "2")
        with sh.backends.replica(*limits) as c, sh.backends.replica(*limits) as d:
            api = Api(c)
            token = api.new_user(self.cred)
            api.close()
            answers = _race_across([(c if i % 2 else d, lambda api: api.generate(token, 1000))
                                    for i in range(8)])
            ok = [r for r in answers if r.status_code == 200]
            self.assertEqual(len(ok), 3, [r.status_code for r in answers])
            for r in answers:
                if r.status_code != 200:
                    assert_api_error(r, 429, "too_many_open_uploads")

    def test_token_rate_limit_holds_across_replicas(self):
        with sh.backends.replica(token_rpm=4) as c, sh.backends.replica(token_rpm=4) as d:
            # A partner of its own: every replica on this database counts the others' too.
            cred = create_partner(c)
            # The limit counts per clock minute: all six requests go early in one.
            harness.wait_for(lambda: time.time() % 60 < 45, timeout=20, interval=0.1,
                             what="the first 45 s of a clock minute")
            answers = []
            for server in (c, d, c, d, c, d):
                api = Api(server)
                answers.append(api.partner_token_response(cred["client_id"], cred["secret_key"]))
                api.close()
            self.assertEqual([r.status_code for r in answers], [200] * 4 + [429] * 2)
            for refused in answers[4:]:
                assert_api_error(refused, 429, "rate_limited")
                self.assertGreaterEqual(int(refused.headers["Retry-After"]), 1)

    def test_partner_quotas_hold_across_replicas(self):
        limits = ("--max-open-uploads-per-partner", "3", "--database-connections", "2")
        with sh.backends.replica(*limits) as c, sh.backends.replica(*limits) as d:
            cred = create_partner(c)
            api = Api(c)
            # Eight users of one partner: only the partner's quota can hold them back.
            tokens = [api.new_user(cred) for _ in range(8)]
            api.close()
            answers = _race_across([(c if i % 2 else d,
                                     lambda api, token=token: api.generate(token, 1000))
                                    for i, token in enumerate(tokens)])
            self.assertEqual(sorted(r.status_code for r in answers), [200] * 3 + [429] * 5)
            for r in answers:
                if r.status_code != 200:
                    assert_api_error(r, 429, "partner_upload_quota")

    def test_partner_request_rate_holds_across_replicas(self):
        limits = ("--partner-requests-per-minute", "10")
        with sh.backends.replica(*limits) as c, sh.backends.replica(*limits) as d:
            cred = create_partner(c)
            key = f"partner-requests:{cred['client_id']}"

            def shared_count():
                text = sh.backends.postgres.query(
                    f"SELECT requests FROM request_counts WHERE key = '{key}'")
                return int(text or 0)

            def wait_for_count(n):
                harness.wait_for(lambda: shared_count() == n, timeout=10, interval=0.1,
                                 what=f"{n} requests counted in PostgreSQL")

            # The limit counts per clock minute: every request goes early in one.
            harness.wait_for(lambda: time.time() % 60 < 30, timeout=40, interval=0.1,
                             what="the first 30 s of a clock minute")
            api_c, api_d = Api(c), Api(d)
            token = api_c.new_user(cred)  # the first request of the partner's tokens
            for _ in range(5):
                self.assertEqual(api_c.get_file(token, "f_missing").status_code, 404)
            wait_for_count(6)  # replica c shared its count
            self.assertEqual(api_d.get_file(token, "f_missing").status_code, 404)
            wait_for_count(7)  # replica d shared its own, and learnt c's
            statuses = [api_d.get_file(token, "f_missing").status_code for _ in range(4)]
            self.assertEqual(statuses, [404] * 3 + [429])
            refused = api_d.get_file(token, "f_missing")
            assert_api_error(refused, 429, "partner_rate_limited")
            self.assertGreaterEqual(int(refused.headers["Retry-After"]), 1)
            wait_for_count(10)  # refused requests are not counted
            # Replica c learns the total at its next sync, once it counts a request.
            self.assertEqual(api_c.get_file(token, "f_missing").status_code, 404)
            wait_for_count(11)
            assert_api_error(api_c.get_file(token, "f_missing"), 429, "partner_rate_limited")
            api_c.close()
            api_d.close()

    def test_revoked_tokens_are_refused_by_every_replica_within_seconds(self):
        cred = create_partner(self.a)
        tokens = self.api_a.partner_tokens(cred)
        user = self.api_a.user_token(tokens["access_token"])
        for api in (self.api_a, self.api_b):
            self.assertEqual(api.get_file(user, "f_missing").status_code, 404)
        # The command runs on neither replica: only the shared database tells them.
        harness.revoke_tokens(self.a, cred["client_id"])
        for api in (self.api_a, self.api_b):
            harness.wait_for(lambda api=api: api.get_file(user, "f_missing").status_code == 401,
                             timeout=10, interval=0.1, what="the revoked user token refused")
            assert_api_error(api.get_file(user, "f_missing"), 401, "token_revoked")
            assert_api_error(api.user_token_response(tokens["access_token"], "user-000002"),
                             401, "token_revoked")
        assert_api_error(self.api_b.refresh_response(tokens["refresh_token"]), 401,
                         "invalid_refresh_token")
        # Tokens issued on one replica after the revocation work on the other.
        fresh_user = self.api_a.user_token(self.api_a.partner_tokens(cred)["access_token"])
        self.assertEqual(self.api_b.get_file(fresh_user, "f_missing").status_code, 404)

    def test_a_strangers_token_requests_count_across_replicas(self):
        limits = ("--token-requests-per-minute-per-address", "4")
        # An address no other test sends from: the count lives in the shared database.
        stranger = f"127.0.{random.randint(1, 254)}.{random.randint(2, 254)}"
        with sh.backends.replica(*limits) as c, sh.backends.replica(*limits) as d:
            cred = create_partner(c)
            # The limit counts per clock minute: all six requests go early in one.
            harness.wait_for(lambda: time.time() % 60 < 45, timeout=20, interval=0.1,
                             what="the first 45 s of a clock minute")
            answers = [harness.token_request_from(stranger, server, cred["client_id"],
                                                  "sk_guess")
                       for server in (c, d, c, d, c, d)]
            self.assertEqual([status for status, _, _ in answers], [401] * 4 + [429] * 2)
            for _, body, _ in answers[4:]:
                self.assertEqual(body["error"]["code"], "rate_limited")
                self.assertIn("address", body["error"]["message"])
            # The partner itself, from an address of its own, is not held back.
            owner = f"127.0.{random.randint(1, 254)}.1"
            status, body, _ = harness.token_request_from(owner, d, cred["client_id"],
                                                         cred["secret_key"])
            self.assertEqual(status, 200, body)

    def test_text_postgresql_cannot_hold_is_refused_as_on_the_embedded_store(self):
        token = self.user()
        assert_api_error(self.api_b.get_file(token, "file_%00abc"), 404, "file_not_found")
        assert_api_error(self.api_b.parts(token, "file_\u0000", "upload_x"), 404,
                         "upload_not_found")
        assert_api_error(self.api_b.abort(token, "file_\u0000x", "upload_\u0000"), 404,
                         "upload_not_found")
        assert_api_error(self.api_b.partner_token_response("pc_\u0000x", "sk_x"), 401,
                         "invalid_client")
        partner = self.api_b.partner_tokens(self.cred)["access_token"]
        assert_api_error(self.api_b.user_token_response(partner, "user\u0000nul"), 400,
                         "invalid_user_id")

    def test_delete_on_one_replica_removes_the_object_from_s3(self):
        token = self.user()
        data = random_bytes(1000)
        plan, done = self.api_a.upload_file(token, data)
        self.assertTrue(sh.backends.object_exists(sh.object_key(plan)))
        self.assertEqual(self.api_b.delete_file(token, plan["FileId"]).status_code, 200)
        self.assertFalse(sh.backends.object_exists(sh.object_key(plan)))
        assert_api_error(self.api_a.get_file(token, plan["FileId"]), 404, "file_not_found")


class ClientOnReplicas(unittest.TestCase):
    """The audiodrop CLI against replicas: its parts go straight to S3, and an upload
    interrupted on one replica resumes on the other."""

    def cli(self, api_url, *args):
        cli = harness.built_binary("AUDIODROP_CLI", "audiodrop")
        return subprocess.Popen([cli, *map(str, args), "--endpoint", api_url],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                stdin=subprocess.DEVNULL)

    @staticmethod
    def parts_stored(server, token, tmp):
        """Parts S3 holds of the upload the CLI's resume journal (in tmp/state) names;
        0 before the journal is written."""
        journals = glob.glob(os.path.join(tmp, "state", "upload-*.json"))
        if not journals:
            return 0
        with open(journals[0]) as f:
            journal = json.load(f)
        api = Api(server)
        try:
            resp = api.parts(token, journal["file_id"], journal["upload_id"])
        finally:
            api.close()
        return len(resp.json()["Parts"]) if resp.status_code == 200 else 0

    def test_cli_upload_interrupted_on_one_replica_resumes_on_the_other(self):
        with sh.backends.replica() as a, sh.backends.replica() as b:
            api = Api(a)
            token = api.new_user(create_partner(a))
            api.close()
            # One address for both replicas, as a load balancer gives: first it leads to
            # A, then, as if A had gone away, to B.
            balancer = sh.TcpProxy(a.port).start()
            endpoint = balancer.endpoint + a.base_path
            try:
                with tempfile.TemporaryDirectory() as tmp:
                    data = random_bytes(3 * 5 * MiB + 11)  # 4 parts
                    path = os.path.join(tmp, "talk.mp3")
                    with open(path, "wb") as f:
                        f.write(data)
                    common = ("--token", token, "--state-dir", os.path.join(tmp, "state"),
                              "--json", "--quiet", "--parallel", 1)
                    first = self.cli(endpoint, "upload", path, *common, "--limit-rate", 2 * MiB)
                    # At 2 MiB/s the first part lands after about 2.5 s: stop once S3
                    # holds it, and the resume has at most three parts left to send.
                    harness.wait_for(lambda: self.parts_stored(a, token, tmp) >= 1,
                                     timeout=60, interval=0.1, what="the CLI's first part")
                    first.send_signal(signal.SIGINT)
                    _, err = first.communicate(timeout=60)
                    self.assertEqual(first.returncode, 130, err)

                    balancer.stop()
                    balancer.target_port = b.port
                    balancer.start()
                    second = self.cli(endpoint, "upload", path, *common)
                    out, err = second.communicate(timeout=120)
                    self.assertEqual(second.returncode, 0, err)
            finally:
                balancer.close()
            result = json.loads(out.strip().splitlines()[-1])
            self.assertEqual(result["FileMd5"], md5_hex(data))
            self.assertLess(result["PartsSent"], 4)  # resumed, not started over
            self.assertTrue(result["DownloadUrl"].startswith(sh.backends.rgw.endpoint))
            self.assertEqual(download(result["DownloadUrl"]).content, data)


class KilledReplica(unittest.TestCase):
    def test_kill9_between_parts_then_finish_on_the_other(self):
        with sh.backends.replica() as b:
            a = sh.backends.replica().start()
            try:
                cred = create_partner(b)
                token = Api(a).new_user(cred)
                data = random_bytes(16 * MiB + 5)
                plan = Api(a).start_upload(token, len(data))
                etags = put_all_parts(plan, data, only=[1, 2])
                a.kill9()
                etags.update(put_all_parts(plan, data, only=[3, 4]))
                resp = Api(b).complete(token, plan["FileId"], plan["UploadId"], part_list(etags),
                                       file_md5=md5_hex(data))
                self.assertEqual(resp.status_code, 200, resp.text)
                self.assertEqual(download(resp.json()["DownloadUrl"]).content, data)
            finally:
                a.cleanup()

    def test_kill9_during_complete_then_finish_on_the_other(self):
        with sh.backends.replica() as b:
            cred = create_partner(b)
            for delay in (0.05, 0.3, 1.0):
                a = sh.backends.replica().start()
                try:
                    token = Api(a).new_user(cred)
                    data = random_bytes(48 * MiB + 3)
                    plan = Api(a).start_upload(token, len(data))
                    etags = put_all_parts(plan, data, parallel=4)
                    body = part_list(etags)
                    # Each round crashes the complete at another point; not a wait.
                    killer = threading.Timer(delay, a.kill9)
                    killer.start()
                    try:
                        Api(a).complete(token, plan["FileId"], plan["UploadId"], body,
                                        file_md5=md5_hex(data))
                    except Exception:
                        pass  # the connection died with the replica: that is the point
                    killer.join()
                    resp = Api(b).complete(token, plan["FileId"], plan["UploadId"], body,
                                           file_md5=md5_hex(data))
                    self.assertEqual(resp.status_code, 200, f"delay {delay}: {resp.text}")
                    self.assertEqual(resp.json()["FileMd5"], md5_hex(data))
                    self.assertEqual(download(resp.json()["DownloadUrl"]).content, data)
                finally:
                    a.cleanup()


def _race_across(calls):
    """Runs (server, call) pairs at once, each on its own connection to its server."""
    barrier = threading.Barrier(len(calls), timeout=30)
    results = [None] * len(calls)
    errors = []

    def run(i, server, call):
        api = Api(server)
        try:
            api.http.get(server.base_url + "/healthz", timeout=30)
            barrier.wait()
            results[i] = call(api)
        except BaseException as e:  # reported below, in the test's thread
            errors.append(e)
        finally:
            api.close()

    threads = [threading.Thread(target=run, args=(i, s, c)) for i, (s, c) in enumerate(calls)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    if errors:
        raise errors[0]
    assert all(r is not None for r in results), "a racer did not finish in 120 s"
    return results


if __name__ == "__main__":
    harness.main()
