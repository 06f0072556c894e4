"""Native TLS on both listeners, with a private CA made by the `openssl` command: the
whole upload over https with curl, requests, boto3 and the CLI trusting that CA;
untrusted clients, TLS 1.1 and plain HTTP refused while the server carries on; SIGHUP
swaps the certificate for new connections and keeps open ones; a broken certificate at
SIGHUP keeps the old one; half or broken TLS options refuse to start."""

import http.client
import json
import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import unittest
import urllib.parse

import requests

import harness
from harness import CHUNK_SIZE, MiB, md5_hex

CURL = "/usr/bin/curl"
OPENSSL = "/usr/bin/openssl"
HANDSHAKE_TIMEOUT = 2  # --tls-handshake-timeout of the class's server, seconds


def run(*cmd, timeout=60):
    proc = subprocess.run(cmd, capture_output=True, timeout=timeout, stdin=subprocess.DEVNULL)
    if proc.returncode != 0:
        raise AssertionError(f"{cmd[0]} failed ({proc.returncode}): "
                             f"{proc.stderr.decode(errors='replace')}")
    return proc


class Pki:
    """A private CA and server certificates it signs (SAN IP:127.0.0.1, DNS:localhost),
    all P-256, in `root`."""

    def __init__(self, root):
        self.root = root
        self.ca_key = self.path("ca.key")
        self.ca_cert = self.path("ca.pem")
        run(OPENSSL, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", self.ca_key, "-out", self.ca_cert, "-days", "2",
            "-subj", "/CN=audiodrop test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign")
        self.extensions = self.path("server.ext")
        with open(self.extensions, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1,DNS:localhost\n"
                    "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n")

    def path(self, name):
        return os.path.join(self.root, name)

    def issue(self, name, serial):
        """(cert path, key path) of a new server certificate with subject CN=`name`."""
        cert, key, csr = self.path(name + ".pem"), self.path(name + ".key"), self.path(name + ".csr")
        run(OPENSSL, "req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", key, "-out", csr, "-subj", f"/CN={name}")
        run(OPENSSL, "x509", "-req", "-in", csr, "-CA", self.ca_cert, "-CAkey", self.ca_key,
            "-set_serial", str(serial), "-days", "2", "-extfile", self.extensions, "-out", cert)
        return cert, key


def curl(ca, *args):
    """Runs curl trusting `ca` (None: the system's CAs only); (exit code, HTTP status,
    body, stderr)."""
    cmd = [CURL, "--silent", "--show-error", "--noproxy", "*", "--max-time", "30",
           "--write-out", "\n%{http_code}"]
    if ca:
        cmd += ["--cacert", ca]
    proc = subprocess.run(cmd + list(args), capture_output=True, timeout=60,
                          stdin=subprocess.DEVNULL)
    body, _, status = proc.stdout.rpartition(b"\n")
    return proc.returncode, int(status or 0), body, proc.stderr.decode(errors="replace")


def tls_context(ca):
    ctx = ssl.create_default_context(cafile=ca)
    ctx.check_hostname = True
    return ctx


def peer_serial(port, ca):
    """The serial number of the certificate a new connection to `port` is shown."""
    with socket.create_connection(("127.0.0.1", port), timeout=harness.TIMEOUT) as raw:
        with tls_context(ca).wrap_socket(raw, server_hostname="127.0.0.1") as tls:
            return int(tls.getpeercert()["serialNumber"], 16)


def closed_within(sock, seconds):
    """Reads (and drops) what `sock` receives until the peer closes it; True if it did
    within `seconds`, False if it was still open then."""
    sock.settimeout(seconds)
    try:
        while sock.recv(65536):
            pass
    except socket.timeout:
        return False
    except OSError:
        pass  # reset: closed too
    return True


class TlsListeners(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="audiodrop-tls-")
        cls.pki = Pki(cls.tmp)
        cls.serial = 1001
        cert, key = cls.pki.issue("first", cls.serial)
        # The files the server is told about; tests replace their contents.
        cls.cert, cls.key = cls.pki.path("live.pem"), cls.pki.path("live.key")
        shutil.copy(cert, cls.cert)
        shutil.copy(key, cls.key)
        cls.server = harness.Server(
            "--tls-cert", cls.cert, "--tls-key", cls.key,
            "--storage-tls-cert", cls.cert, "--storage-tls-key", cls.key,
            "--tls-handshake-timeout", HANDSHAKE_TIMEOUT, tls_ca=cls.pki.ca_cert)
        cls.server.start()
        harness.storage_session().verify = cls.pki.ca_cert
        cls.api = harness.Api(cls.server)
        cls.partner = harness.create_partner(cls.server)
        cls.token = cls.api.new_user(cls.partner)

    @classmethod
    def tearDownClass(cls):
        cls.api.close()
        cls.server.stop()
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def ca(self):
        return self.pki.ca_cert

    def ports(self):
        return (self.server.port, self.server.storage_port)

    def install(self, name, serial):
        cert, key = self.pki.issue(name, serial)
        shutil.copy(cert, self.cert)
        shutil.copy(key, self.key)

    def sighup(self, msg, count):
        """Sends SIGHUP and waits until the log has `count` more lines with msg=`msg`."""
        seen = len(self.server.log_events(msg))
        self.server.proc.send_signal(signal.SIGHUP)
        harness.wait_for(lambda: len(self.server.log_events(msg)) >= seen + count, 30,
                         f"{count} more '{msg}' log lines after SIGHUP")

    def uploaded(self, size):
        data = harness.random_bytes(size)
        _, done = self.api.upload_file(self.token, data)
        return data, done

    # The whole flow -------------------------------------------------------------
    def test_curl_does_the_whole_upload_and_a_ranged_download_over_https(self):
        api, ca = self.server.api_url, self.ca()
        self.assertTrue(api.startswith("https://"))
        rc, status, body, err = curl(ca, "-X", "POST", f"{api}/oauth/partner/access-token",
                                     "-u", f"{self.partner['client_id']}:{self.partner['secret_key']}")
        self.assertEqual((rc, status), (0, 200), err)
        partner_token = json.loads(body)["access_token"]
        rc, status, body, err = curl(ca, "-X", "POST", f"{api}/open/partner/users/access-token",
                                     "-H", "Content-Type: application/json",
                                     "-H", f"Authorization: Bearer {partner_token}",
                                     "-d", json.dumps({"user_id": "tls-user-0001"}))
        self.assertEqual((rc, status), (0, 200), err)
        token = json.loads(body)["access_token"]

        data = harness.random_bytes(CHUNK_SIZE + MiB + 5)
        rc, status, body, err = curl(ca, "-X", "POST",
                                     f"{api}/open/partner/files/upload/generate-presigned-urls",
                                     "-H", "Content-Type: application/json",
                                     "-H", f"Authorization: Bearer {token}",
                                     "-d", json.dumps({"filesize": len(data), "filetype": "mp3"}))
        self.assertEqual((rc, status), (0, 200), err)
        plan = json.loads(body)
        storage = f"https://127.0.0.1:{self.server.storage_port}/"
        parts = []
        for part, chunk in zip(plan["Parts"], harness.split_parts(data, plan["ChunkSize"])):
            self.assertTrue(part["PresignedUrl"].startswith(storage), part["PresignedUrl"])
            path = os.path.join(self.tmp, f"part{part['PartNumber']}")
            with open(path, "wb") as f:
                f.write(chunk)
            rc, status, _, err = curl(ca, "-X", "PUT", "--data-binary", f"@{path}",
                                      "-D", path + ".headers", part["PresignedUrl"])
            self.assertEqual((rc, status), (0, 200), err)
            with open(path + ".headers", "rb") as f:
                etag = [line.split(b":", 1)[1].strip().decode() for line in f.read().splitlines()
                        if line.lower().startswith(b"etag:")][-1]
            self.assertEqual(etag, f'"{md5_hex(chunk)}"')
            parts.append({"PartNumber": part["PartNumber"], "ETag": etag})
        rc, status, body, err = curl(ca, "-X", "POST",
                                     f"{api}/open/partner/files/upload/complete-upload",
                                     "-H", "Content-Type: application/json",
                                     "-H", f"Authorization: Bearer {token}",
                                     "-d", json.dumps({"file_id": plan["FileId"],
                                                       "upload_id": plan["UploadId"],
                                                       "part_list": parts, "filetype": "mp3"}))
        self.assertEqual((rc, status), (0, 200), err)
        done = json.loads(body)
        self.assertEqual(done["FileMd5"], md5_hex(data))
        self.assertTrue(done["DownloadUrl"].startswith(storage), done["DownloadUrl"])
        rc, status, body, err = curl(ca, done["DownloadUrl"])
        self.assertEqual((rc, status), (0, 200), err)
        self.assertTrue(body == data)
        rc, status, body, err = curl(ca, "-H", "Range: bytes=1000-1999", done["DownloadUrl"])
        self.assertEqual((rc, status, body), (0, 206, data[1000:2000]), err)

    def test_boto3_presigned_urls_work_over_https_with_the_ca(self):
        import boto3
        from botocore.config import Config
        s3 = boto3.session.Session().client(
            "s3", endpoint_url=self.server.storage_url, verify=self.ca(),
            aws_access_key_id=self.server.access_key,
            aws_secret_access_key=self.server.secret_key, region_name=harness.STORAGE_REGION,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}))
        data = harness.random_bytes(4321)
        plan = self.api.start_upload(self.token, len(data))
        bucket, key, query = harness.split_storage_url(plan["Parts"][0]["PresignedUrl"])
        put_url = s3.generate_presigned_url("upload_part", Params={
            "Bucket": bucket, "Key": key, "UploadId": query["uploadId"], "PartNumber": 1})
        self.assertTrue(put_url.startswith("https://"))
        resp = requests.put(put_url, data=data, verify=self.ca(), timeout=harness.TIMEOUT)
        self.assertEqual(resp.status_code, 200, resp.text)
        done = self.api.complete(self.token, plan["FileId"], plan["UploadId"],
                                 [{"PartNumber": 1, "ETag": resp.headers["ETag"]}])
        self.assertEqual(done.status_code, 200, done.text)
        bucket, key, _ = harness.split_storage_url(done.json()["DownloadUrl"])
        get_url = s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key})
        got = requests.get(get_url, verify=self.ca(), timeout=harness.TIMEOUT)
        self.assertEqual(got.status_code, 200)
        self.assertTrue(got.content == data)

    def test_cli_uploads_over_https_trusting_the_ca(self):
        cli = harness.built_binary("AUDIODROP_CLI", "audiodrop")
        endpoint = self.server.base_url
        env = {k: v for k, v in os.environ.items() if not k.startswith("AUDIODROP_")}

        def audiodrop(*args, extra_env=None):
            return subprocess.run([cli, *args], capture_output=True, timeout=120,
                                  stdin=subprocess.DEVNULL, env={**env, **(extra_env or {})})

        token = audiodrop("token", "partner", "--endpoint", endpoint, "--ca-cert", self.ca(),
                          "--client-id", self.partner["client_id"],
                          "--secret-key", self.partner["secret_key"])
        self.assertEqual(token.returncode, 0, token.stderr)
        user = audiodrop("token", "user", "--endpoint", endpoint,
                         "--partner-token", token.stdout.decode().strip(),
                         "--user-id", "tls-cli-user", extra_env={"AUDIODROP_CA_CERT": self.ca()})
        self.assertEqual(user.returncode, 0, user.stderr)
        data = harness.random_bytes(CHUNK_SIZE + 777)
        path = os.path.join(self.tmp, "cli.mp3")
        with open(path, "wb") as f:
            f.write(data)
        up = audiodrop("upload", path, "--endpoint", endpoint, "--ca-cert", self.ca(), "--json",
                       "--quiet", "--no-resume", "--token", user.stdout.decode().strip())
        self.assertEqual(up.returncode, 0, up.stderr)
        result = json.loads(up.stdout)
        self.assertEqual(result["FileMd5"], md5_hex(data))
        self.assertTrue(result["DownloadUrl"].startswith("https://"))
        self.assertIn("--ca-cert", audiodrop("--help").stdout.decode())

    def test_limits_hold_over_tls(self):
        resp = self.api.request("GET", "/open/partner/files/x", token=self.token,
                                headers={"X-Padding": "a" * (20 * 1024)})
        self.assertEqual(resp.status_code, 431)

    # Refusals ------------------------------------------------------------------------
    def test_a_client_without_the_ca_fails_the_handshake(self):
        for port in self.ports():
            rc, _, _, err = curl(None, f"https://127.0.0.1:{port}/healthz")
            self.assertEqual(rc, 60, err)  # peer certificate cannot be authenticated
            with self.assertRaises(requests.exceptions.SSLError):
                requests.get(f"https://127.0.0.1:{port}/healthz", timeout=harness.TIMEOUT)
        self.assertEqual(self.api.http.get(self.server.base_url + "/healthz",
                                           timeout=harness.TIMEOUT).status_code, 200)

    def test_tls_1_1_is_refused(self):
        for port in self.ports():
            rc, _, _, err = curl(self.ca(), "--tlsv1.1", "--tls-max", "1.1",
                                 f"https://127.0.0.1:{port}/healthz")
            self.assertNotEqual(rc, 0, err)
            # curl's OpenSSL may not offer 1.1 at all: ask with openssl, allowing it, and
            # see the server answer with a protocol_version alert.
            proc = subprocess.run(
                [OPENSSL, "s_client", "-connect", f"127.0.0.1:{port}", "-tls1_1",
                 "-cipher", "DEFAULT:@SECLEVEL=0", "-CAfile", self.ca()],
                capture_output=True, timeout=30, stdin=subprocess.DEVNULL)
            out = (proc.stdout + proc.stderr).decode(errors="replace")
            self.assertNotEqual(proc.returncode, 0, out)
            self.assertIn("alert protocol version", out)
        self.assertEqual(requests.get(self.server.base_url + "/healthz", verify=self.ca(),
                                      timeout=harness.TIMEOUT).status_code, 200)

    def test_plain_http_to_a_tls_port_is_closed_and_the_server_carries_on(self):
        before = self.handshakes_failed()
        for port in self.ports():
            with socket.create_connection(("127.0.0.1", port), timeout=harness.TIMEOUT) as s:
                s.sendall(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                self.assertTrue(closed_within(s, HANDSHAKE_TIMEOUT + 5))
            with self.assertRaises(requests.exceptions.ConnectionError):
                requests.get(f"http://127.0.0.1:{port}/healthz", timeout=harness.TIMEOUT)
        self.assertEqual(requests.get(self.server.base_url + "/healthz", verify=self.ca(),
                                      timeout=harness.TIMEOUT).status_code, 200)
        # Two failed handshakes on each listener, and /metrics counts them.
        after = self.handshakes_failed()
        self.assertEqual({listener: after[listener] - before[listener] for listener in after},
                         {"api": 2, "storage": 2})

    def handshakes_failed(self):
        """{listener: audiodrop_tls_handshakes_failed_total} from /metrics."""
        text = requests.get(self.server.base_url + "/metrics", verify=self.ca(),
                            timeout=harness.TIMEOUT).text
        found = re.findall(r'^audiodrop_tls_handshakes_failed_total\{listener="(\w+)"\} (\d+)$',
                           text, re.MULTILINE)
        return {listener: int(n) for listener, n in found}

    def test_a_silent_handshake_is_cut_off(self):
        with socket.create_connection(("127.0.0.1", self.server.port),
                                      timeout=harness.TIMEOUT) as s:
            self.assertTrue(closed_within(s, HANDSHAKE_TIMEOUT + 10))

    # Reloads -----------------------------------------------------------------------
    def test_sighup_gives_new_connections_the_new_certificate_and_keeps_open_ones(self):
        data, done = self.uploaded(3 * MiB)
        before = peer_serial(self.server.port, self.ca())
        # A kept-alive API connection, and a download stopped part way through.
        kept = http.client.HTTPSConnection("127.0.0.1", self.server.port,
                                           context=tls_context(self.ca()),
                                           timeout=harness.TIMEOUT)
        kept.request("GET", "/healthz")
        first = kept.getresponse()
        first.read()
        self.assertEqual(first.status, 200)
        old_cert = kept.sock.getpeercert(binary_form=True)
        u = urllib.parse.urlsplit(done["DownloadUrl"])
        downloading = http.client.HTTPSConnection("127.0.0.1", self.server.storage_port,
                                                  context=tls_context(self.ca()),
                                                  timeout=harness.TIMEOUT)
        downloading.request("GET", f"{u.path}?{u.query}")
        reply = downloading.getresponse()
        self.assertEqual(reply.status, 200)
        head = reply.read(64 * 1024)

        serial = before + 1000
        self.install(f"reloaded-{serial}", serial)
        self.sighup("tls reloaded", 2)
        for port in self.ports():
            self.assertEqual(peer_serial(port, self.ca()), serial)
        # Open connections carry on with the certificate they started with.
        rest = reply.read()
        self.assertTrue(head + rest == data)
        kept.request("GET", "/healthz")
        self.assertEqual(kept.getresponse().status, 200)
        self.assertEqual(kept.sock.getpeercert(binary_form=True), old_cert)
        kept.close()
        downloading.close()

    def test_a_broken_certificate_at_sighup_keeps_the_old_one(self):
        failed = "tls reload failed; the certificate in use stays"
        serial = peer_serial(self.server.port, self.ca())
        other_cert, _ = self.pki.issue(f"other-{serial}", serial + 1)
        _, third_key = self.pki.issue(f"third-{serial}", serial + 2)
        try:
            with open(self.cert, "w") as f:
                f.write("not a certificate\n")
            self.sighup(failed, 2)
            self.assertIn(self.cert, self.server.log_events(failed)[-1]["error"])
            # A key that is not the certificate's is refused too.
            shutil.copy(other_cert, self.cert)
            shutil.copy(third_key, self.key)
            self.sighup(failed, 2)
            self.assertIn(self.key, self.server.log_events(failed)[-1]["error"])
            for port in self.ports():
                self.assertEqual(peer_serial(port, self.ca()), serial)
            self.assertTrue(self.server.running())
        finally:
            self.install(f"restored-{serial}", serial + 3)
            self.sighup("tls reloaded", 2)


class TlsStartupRefusals(unittest.TestCase):
    """Option mistakes stop the server before it listens, with one line naming the cause."""

    @classmethod
    def setUpClass(cls):
        cls.tmp = tempfile.mkdtemp(prefix="audiodrop-tls-refusals-")
        cls.pki = Pki(cls.tmp)
        cls.cert, cls.key = cls.pki.issue("server", 7)
        cls.other_cert, cls.other_key = cls.pki.issue("other", 8)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.tmp, ignore_errors=True)

    def serve(self, *args):
        cmd = [harness.server_binary(), "serve", "--listen", "127.0.0.1:0",
               "--storage-listen", "127.0.0.1:0", "--data-dir", os.path.join(self.tmp, "data"),
               *args]
        proc = subprocess.run(cmd, capture_output=True, timeout=60, stdin=subprocess.DEVNULL)
        return proc.returncode, proc.stderr.decode(errors="replace")

    def assert_refused(self, rc, err, exit_code, naming):
        self.assertEqual(rc, exit_code, err)
        errors = [line for line in err.splitlines()
                  if "level=error" in line or line.startswith("audiodrop-server:")]
        self.assertEqual(len(errors), 1, err)
        self.assertIn(naming, errors[0])
        self.assertNotIn("msg=ready", err)

    def test_a_certificate_without_its_key(self):
        self.assert_refused(*self.serve("--tls-cert", self.cert), 2, "--tls-key")
        self.assert_refused(*self.serve("--storage-tls-key", self.key), 2, "--storage-tls-cert")

    def test_an_unreadable_file_is_named(self):
        missing = os.path.join(self.tmp, "missing.pem")
        self.assert_refused(*self.serve("--tls-cert", missing, "--tls-key", self.key), 1, missing)
        self.assert_refused(*self.serve("--storage-tls-cert", self.cert,
                                        "--storage-tls-key", missing), 1, missing)

    def test_a_key_of_another_certificate_is_named(self):
        self.assert_refused(*self.serve("--tls-cert", self.cert, "--tls-key", self.other_key),
                            1, self.other_key)

    def test_help_lists_the_tls_options(self):
        proc = subprocess.run([harness.server_binary(), "serve", "--help"], capture_output=True,
                              timeout=30, stdin=subprocess.DEVNULL)
        text = proc.stdout.decode()
        for flag in ("--tls-cert", "--tls-key", "--storage-tls-cert", "--storage-tls-key",
                     "--tls-handshake-timeout"):
            self.assertIn(flag, text)


if __name__ == "__main__":
    harness.main()
