"""The Authentication API: partner tokens, refresh rotation, user tokens, the kinds of
token each endpoint takes, refusals, the token rate limit and region scoping."""

import base64
import json
import os
import subprocess

import harness
from harness import assert_api_error, basic_auth

GENERATE = "/open/partner/files/upload/generate-presigned-urls"
USERS = "/open/partner/users/access-token"
US_HOST = "https://platform-us.example.test/developer/api"


def jwt_payload(token):
    """The claims of a JWT-shaped token, or None when it is not one."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    pad = "=" * (-len(parts[1]) % 4)
    return json.loads(base64.urlsafe_b64decode(parts[1] + pad))


class Auth(harness.ServerTestCase):
    def test_partner_token_answer_shape(self):
        tokens = self.api.partner_tokens(self.partner)
        self.assertEqual(set(tokens), {"access_token", "refresh_token", "token_type", "expires_in"})
        self.assertEqual(tokens["token_type"], "bearer")
        self.assertIsInstance(tokens["expires_in"], int)
        self.assertGreater(tokens["expires_in"], 0)
        self.assertTrue(tokens["access_token"] and tokens["refresh_token"])
        self.assertNotEqual(tokens["access_token"], tokens["refresh_token"])

    def test_refresh_rotates_and_a_spent_refresh_token_is_refused(self):
        first = self.api.partner_tokens(self.partner)
        resp = self.api.refresh_response(first["refresh_token"])
        self.assertEqual(resp.status_code, 200, resp.text)
        second = resp.json()
        self.assertEqual(set(second), {"access_token", "refresh_token", "token_type", "expires_in"})
        self.assertNotEqual(second["refresh_token"], first["refresh_token"])
        # The new access token works; the spent refresh token does not, twice over.
        self.api.user_token(second["access_token"])
        for _ in range(2):
            assert_api_error(self.api.refresh_response(first["refresh_token"]), 401,
                             "invalid_refresh_token")
        # The new refresh token is still good (reuse of the old one did not burn it).
        resp = self.api.refresh_response(second["refresh_token"])
        self.assertEqual(resp.status_code, 200, resp.text)

    def test_racing_refreshes_of_one_token_have_one_winner(self):
        tokens = self.api.partner_tokens(self.partner)

        statuses = sorted(harness.race(self.server, [
            lambda api: api.refresh_response(tokens["refresh_token"]).status_code] * 8))
        self.assertEqual(statuses, [200] + [401] * 7)

    def test_unknown_refresh_token_is_refused(self):
        assert_api_error(self.api.refresh_response("rt_" + harness.random_text(40)), 401,
                         "invalid_refresh_token")

    def test_access_token_is_not_a_refresh_token(self):
        tokens = self.api.partner_tokens(self.partner)
        assert_api_error(self.api.refresh_response(tokens["access_token"]), 401,
                         "invalid_refresh_token")

    def test_user_token_answer_and_use(self):
        partner = self.api.partner_tokens(self.partner)["access_token"]
        resp = self.api.user_token_response(partner, "user-000001", expires_in=3600)
        self.assertEqual(resp.status_code, 200, resp.text)
        body = resp.json()
        self.assertEqual(set(body), {"access_token", "token_type", "expires_in"})
        self.assertEqual(body["token_type"], "bearer")
        self.assertEqual(body["expires_in"], 3600)
        default = self.api.user_token_response(partner, "user-000001").json()
        self.assertGreater(default["expires_in"], 0)
        self.assertEqual(self.api.generate(body["access_token"], 10).status_code, 200)

    def test_user_id_length_must_be_6_to_120(self):
        partner = self.api.partner_tokens(self.partner)["access_token"]
        for user_id in ("a" * 6, "b" * 120):
            self.assertEqual(self.api.user_token_response(partner, user_id).status_code, 200)
        for user_id in ("", "a" * 5, "b" * 121):
            with self.subTest(length=len(user_id)):
                assert_api_error(self.api.user_token_response(partner, user_id), 400,
                                 "invalid_user_id")
        # Characters, not bytes: 6 and 120 non-ASCII characters are fine, 5 and 121 not.
        for user_id in ("ユーザー名前", "ü" * 120):
            self.assertEqual(self.api.user_token_response(partner, user_id).status_code, 200)
        for user_id in ("ユーザー名", "ü" * 121):
            assert_api_error(self.api.user_token_response(partner, user_id), 400,
                             "invalid_user_id")

    def test_expires_in_out_of_range_is_refused(self):
        partner = self.api.partner_tokens(self.partner)["access_token"]
        for value in (0, -5, 10 ** 12):
            with self.subTest(expires_in=value):
                assert_api_error(self.api.user_token_response(partner, "user-000002", value),
                                 400, "invalid_expires_in")

    def test_partner_token_is_refused_on_file_endpoints(self):
        partner = self.api.partner_tokens(self.partner)["access_token"]
        assert_api_error(self.api.generate(partner, 10), 403, "user_token_required")
        assert_api_error(self.api.get_file(partner, "file_whatever"), 403, "user_token_required")

    def test_user_token_cannot_mint_user_tokens(self):
        user = self.user()
        assert_api_error(self.api.user_token_response(user, "someone-else"), 403,
                         "partner_token_required")

    def test_wrong_secret_and_unknown_client_are_invalid_client(self):
        cid = self.partner["client_id"]
        assert_api_error(self.api.partner_token_response(cid, "wrong-secret"), 401,
                         "invalid_client")
        assert_api_error(self.api.partner_token_response("no-such-client", "x"), 401,
                         "invalid_client")
        for header in ("Basic !!!notbase64", "Basic " + base64.b64encode(b"nocolon").decode()):
            with self.subTest(header=header):
                resp = self.api.request("POST", "/oauth/partner/access-token", auth=header)
                assert_api_error(resp, 401, "invalid_client")
        # The partner token endpoint takes Basic credentials only: a bearer is no client.
        resp = self.api.request("POST", "/oauth/partner/access-token", auth="Bearer abc")
        assert_api_error(resp, 401, "invalid_client")

    def test_garbage_bearer_is_invalid_token(self):
        for token in ("garbage", "a.b.c", "eyJhbGciOiJub25lIn0.e30."):
            with self.subTest(token=token):
                assert_api_error(self.api.generate(token, 10), 401, "invalid_token")

    def test_token_with_a_forged_signature_is_invalid_token(self):
        user = self.user()
        head, payload, sig = (user.split(".") + ["", ""])[:3]
        forged = f"{head}.{payload}.{'A' * max(len(sig), 10)}"
        assert_api_error(self.api.generate(forged, 10), 401, "invalid_token")
        if jwt_payload(user) is not None:
            # Same signature, changed claims (another user): still refused.
            claims = jwt_payload(user)
            claims["sub"] = "someone-else"
            claims["user_id"] = "someone-else"
            body = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
            assert_api_error(self.api.generate(f"{head}.{body}.{sig}", 10), 401, "invalid_token")

    def test_missing_authorization_is_missing_token(self):
        resp = self.api.request("POST", GENERATE, json_body={"filesize": 10, "filetype": "mp3"})
        assert_api_error(resp, 401, "missing_token")
        resp = self.api.request("POST", USERS, json_body={"user_id": "user-000003"})
        assert_api_error(resp, 401, "missing_token")
        resp = self.api.request("POST", "/oauth/partner/access-token")
        assert_api_error(resp, 401, "invalid_client")

    def test_basic_credentials_are_not_a_bearer_token(self):
        resp = self.api.request("POST", GENERATE, json_body={"filesize": 10, "filetype": "mp3"},
                                auth=basic_auth(self.partner["client_id"],
                                                self.partner["secret_key"]))
        assert_api_error(resp, 401, "invalid_token")

    def test_the_secret_is_not_stored_in_the_clear(self):
        secret = self.partner["secret_key"].encode()
        for dirpath, _, files in os.walk(self.server.data_dir):
            for name in files:
                path = os.path.join(dirpath, name)
                if os.path.getsize(path) > 64 * harness.MiB:
                    continue
                with open(path, "rb") as f:
                    self.assertNotIn(secret, f.read(), f"secret_key found in clear in {path}")


class TokenRevocation(harness.ServerTestCase):
    def test_revoked_tokens_are_refused_within_seconds_and_new_ones_work(self):
        partner = harness.create_partner(self.server)
        tokens = self.api.partner_tokens(partner)
        user = self.api.user_token(tokens["access_token"])
        bystander = self.api.new_user(self.partner)  # another partner's user
        self.assertEqual(self.api.get_file(user, "f_missing").status_code, 404)

        harness.revoke_tokens(self.server, partner["client_id"])
        # The running server learns of it at its next sync, about a second later.
        harness.wait_for(lambda: self.api.get_file(user, "f_missing").status_code == 401,
                         timeout=10, interval=0.1, what="the user token refused")
        assert_api_error(self.api.get_file(user, "f_missing"), 401, "token_revoked")
        assert_api_error(self.api.user_token_response(tokens["access_token"], "user-000002"),
                         401, "token_revoked")
        assert_api_error(self.api.refresh_response(tokens["refresh_token"]), 401,
                         "invalid_refresh_token")
        self.assertEqual(self.api.get_file(bystander, "f_missing").status_code, 404)

        # The partner's credentials still work, and so do the tokens they get now.
        fresh = self.api.partner_tokens(partner)
        user = self.api.user_token(fresh["access_token"])
        self.assertEqual(self.api.get_file(user, "f_missing").status_code, 404)
        self.assertEqual(self.api.refresh_response(fresh["refresh_token"]).status_code, 200)

    def test_revoking_an_unknown_partner_fails_and_says_so(self):
        proc = subprocess.run([harness.server_binary(), "partner", "revoke-tokens", "pc_nobody",
                               "--data-dir", self.server.data_dir],
                              capture_output=True, timeout=60, env=self.server.env(),
                              stdin=subprocess.DEVNULL)
        self.assertNotEqual(proc.returncode, 0)
        self.assertEqual(proc.stdout, b"")
        self.assertIn(b"pc_nobody", proc.stderr)


class TokenRateLimit(harness.ServerTestCase):
    server_kwargs = {"token_rpm": 10}

    def test_eleventh_token_request_in_a_minute_is_429_with_retry_after(self):
        cid, secret = self.partner["client_id"], self.partner["secret_key"]
        for i in range(10):
            resp = self.api.partner_token_response(cid, secret)
            self.assertEqual(resp.status_code, 200, f"request {i + 1}: {resp.text}")
        resp = self.api.partner_token_response(cid, secret)
        assert_api_error(resp, 429, "rate_limited")
        retry = resp.headers.get("Retry-After")
        self.assertIsNotNone(retry, "429 without Retry-After")
        self.assertTrue(retry.isdigit() and 1 <= int(retry) <= 60, retry)
        # Concurrent requests do not slip past the limit either.
        racer = harness.create_partner(self.server)

        statuses = sorted(harness.race(self.server, [
            lambda api: api.partner_token_response(racer["client_id"],
                                                   racer["secret_key"]).status_code] * 16))
        self.assertEqual(statuses, [200] * 10 + [429] * 6)
        # The limit is per client_id: another partner is unaffected.
        other = harness.create_partner(self.server)
        self.assertEqual(self.api.partner_token_response(other["client_id"],
                                                         other["secret_key"]).status_code, 200)


class TokenExpiry(harness.ServerTestCase):
    server_args = ("--partner-token-ttl", "1")

    def test_expired_partner_token_is_token_expired_and_refresh_still_works(self):
        tokens = self.api.partner_tokens(self.partner)
        self.assertEqual(tokens["expires_in"], 1)
        answers = []

        def refused():
            answers.append(self.api.user_token_response(tokens["access_token"], "user-000005"))
            return answers[-1].status_code != 200

        harness.wait_for(refused, timeout=10, interval=0.1,
                         what="the partner token (--partner-token-ttl 1) to expire")
        assert_api_error(answers[-1], 401, "token_expired")
        resp = self.api.refresh_response(tokens["refresh_token"])
        self.assertEqual(resp.status_code, 200, resp.text)
        self.api.user_token(resp.json()["access_token"])


class WrongRegion(harness.ServerTestCase):
    """Tokens and credentials from region us are refused by the same deployment
    restarted as region jp (same data dir, hence same signing key and partners)."""

    def test_tokens_and_credentials_of_another_region_are_refused(self):
        tokens = self.api.partner_tokens(self.partner)
        user = self.api.user_token(tokens["access_token"])
        self.assertEqual(self.api.generate(user, 10).status_code, 200)
        self.server.stop()
        self.server.region = "jp"
        self.server.extra_args += ["--region-host", f"us={US_HOST}"]
        self.server.start()
        try:
            body = assert_api_error(self.api.generate(user, 10), 401, "wrong_region")
            self.assertIn(US_HOST, body["error"]["message"])
            assert_api_error(self.api.user_token_response(tokens["access_token"], "user-000004"),
                             401, "wrong_region")
            assert_api_error(self.api.partner_token_response(self.partner["client_id"],
                                                             self.partner["secret_key"]),
                             401, "wrong_region")
        finally:
            self.server.stop()
            self.server.region = None
            self.server.extra_args = self.server.extra_args[:-2]
            self.server.start()
        # Back in its own region everything works again.
        self.assertEqual(self.api.generate(user, 10).status_code, 200)


if __name__ == "__main__":
    harness.main()
