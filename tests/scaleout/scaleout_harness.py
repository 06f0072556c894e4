"""Shared set-up of the scale-out tests: one throwaway PostgreSQL cluster, one Ceph
RADOS Gateway (a real S3 server that checks every signature itself), and any number of
audiodrop-server replicas on them, each with its own empty data dir.

Everything listens on 127.0.0.1 and is started and stopped here; the integration
harness (tests/integration/harness.py) provides the server process and API client.
"""

import os
import secrets
import shutil
import socket
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from ceph_rgw import CephRgw  # noqa: E402
from postgres_cluster import PostgresCluster  # noqa: E402

BUCKET = "audiodrop-scaleout"

# The stores of the running test module: setUpModule below starts them once per module
# (a test module imports both functions so that unittest runs them).
backends = None


def setUpModule():
    global backends
    backends = Backends().start()


def tearDownModule():
    if backends:
        backends.stop()


class Backends:
    """PostgreSQL + Ceph RGW for one test module; start() once, stop() at the end."""

    def __init__(self):
        self.root = tempfile.mkdtemp(prefix="audiodrop-scaleout-")
        self.postgres = PostgresCluster(os.path.join(self.root, "pg"))
        self.rgw = CephRgw(os.path.join(self.root, "rgw"))
        # Every replica must sign and accept the same access tokens.
        self.token_signing_key = secrets.token_urlsafe(40)
        self._s3 = None

    def start(self):
        try:
            self.postgres.start()
            self.rgw.start()
            self.rgw.make_bucket(BUCKET)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        if self._s3 is not None:
            self._s3.close()
        self.rgw.stop()
        self.postgres.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def scale_out_env(self, s3_endpoint=None, s3_secret_key=None, bucket=BUCKET,
                      database_port=None):
        """The replica's configuration, as AUDIODROP_* variables so that `partner create`
        run by the harness sees the same stores."""
        database_url = self.postgres.url
        if database_port:
            database_url = database_url.replace(f":{self.postgres.port}/", f":{database_port}/")
        return {
            "AUDIODROP_DATABASE_URL": database_url,
            "AUDIODROP_TOKEN_SIGNING_KEY": self.token_signing_key,
            "AUDIODROP_S3_ENDPOINT": s3_endpoint or self.rgw.endpoint,
            "AUDIODROP_S3_BUCKET": bucket,
            "AUDIODROP_S3_REGION": self.rgw.region,
            "AUDIODROP_S3_ACCESS_KEY": self.rgw.access_key,
            "AUDIODROP_S3_SECRET_KEY": s3_secret_key or self.rgw.secret_key,
            "AUDIODROP_S3_PATH_STYLE": "true",
        }

    def replica(self, *extra_args, s3_endpoint=None, s3_secret_key=None, bucket=BUCKET,
                database_port=None, **server_options):
        """An unstarted server replica on these stores (use as a context manager);
        server_options go to harness.Server (e.g. token_rpm)."""
        return harness.Server(*extra_args, explicit_keys=False,
                              env=self.scale_out_env(s3_endpoint, s3_secret_key, bucket,
                                                     database_port), **server_options)

    def s3(self):
        """boto3 on the RGW with the service's own keys, to look at what S3 holds."""
        if self._s3 is None:
            self._s3 = self._make_s3_client()
        return self._s3

    def _make_s3_client(self):
        import boto3
        from botocore.config import Config
        return boto3.session.Session().client(
            "s3", endpoint_url=self.rgw.endpoint, aws_access_key_id=self.rgw.access_key,
            aws_secret_access_key=self.rgw.secret_key, region_name=self.rgw.region,
            config=Config(signature_version="s3v4", s3={"addressing_style": "path"},
                          retries={"max_attempts": 1}, connect_timeout=10,
                          read_timeout=harness.TIMEOUT))

    def object_exists(self, key):
        from botocore.exceptions import ClientError
        try:
            self.s3().head_object(Bucket=BUCKET, Key=key)
            return True
        except ClientError as e:
            if e.response["ResponseMetadata"]["HTTPStatusCode"] == 404:
                return False
            raise

    def open_multipart_upload_ids(self):
        listed = self.s3().list_multipart_uploads(Bucket=BUCKET)
        return {u["UploadId"] for u in listed.get("Uploads", [])}


class ReplicaPairTestCase(unittest.TestCase):
    """Two replicas, a and b, on the module's stores for the whole class, with an Api on
    each (api_a, api_b); `replica_args` adds options to both."""

    replica_args = ()

    @classmethod
    def setUpClass(cls):
        cls.a = backends.replica(*cls.replica_args).start()
        cls.b = backends.replica(*cls.replica_args).start()
        cls.api_a, cls.api_b = harness.Api(cls.a), harness.Api(cls.b)

    @classmethod
    def tearDownClass(cls):
        for api in (cls.api_a, cls.api_b):
            api.close()
        for server in (cls.a, cls.b):
            if server.running():
                server.stop()


def object_key(plan):
    """The S3 key an upload becomes: FileId.filetype (see UploadService::generate)."""
    return plan["FileId"] + ".mp3"


def s3_upload_id(plan):
    """S3's own multipart upload id, from a presigned part URL."""
    _, _, query = harness.split_storage_url(plan["Parts"][0]["PresignedUrl"])
    return query["uploadId"]


class TcpProxy:
    """Forwards 127.0.0.1:port to a loopback target; stop() cuts every connection and
    refuses new ones, as a store that went down does; start() again brings it back on
    the same port. With record_requests, the head of every HTTP/1.1 request that passes
    is kept in `requests` (see RequestHeads).

    The port is held (harness.hold_port()) for the proxy's whole life and each start()
    listens beside the holder, so between a stop() and a start() nobody else can take
    the port; close() gives it up."""

    SLOW_DOWN = (b"HTTP/1.1 503 Slow Down\r\nContent-Type: application/xml\r\n"
                 b"Connection: close\r\nContent-Length: 101\r\n\r\n"
                 b"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                 b"<Error><Code>SlowDown</Code><Message>Please</Message></Error>\n")

    def __init__(self, target_port, throttle_first=0, record_requests=False):
        """throttle_first: that many connections are answered 503 SlowDown, as S3
        answers when throttling, instead of being forwarded."""
        self.target_port = target_port
        self.record_requests = record_requests
        self.requests = []  # RequestHeads' dicts, in the order they arrived
        self.throttle_left = throttle_first
        self.throttled = 0
        self._holder, self.port = harness.hold_port()
        self._listener = None
        self._sockets = []
        self._lock = threading.Lock()

    @property
    def endpoint(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def stop(self):
        with self._lock:
            sockets, self._sockets = self._sockets, []
            if self._listener:
                sockets.append(self._listener)
                self._listener = None
        for s in sockets:
            _close(s)

    def close(self):
        """stop(), and the port is given up for good."""
        self.stop()
        _close(self._holder)

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # stopped
            with self._lock:
                throttle = self.throttle_left > 0
                self.throttle_left -= throttle
                self.throttled += throttle
            if throttle:
                threading.Thread(target=self._slow_down, args=(client,), daemon=True).start()
                continue
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._sockets += [client, upstream]
            heads = RequestHeads(self.requests, self._lock) if self.record_requests else None
            for src, dst, seen in ((client, upstream, heads), (upstream, client, None)):
                threading.Thread(target=self._pump, args=(src, dst, seen), daemon=True).start()

    def throttle(self, connections):
        """Answers the next `connections` connections 503 SlowDown; open connections are
        cut first, so a client's next request needs a new one."""
        with self._lock:
            self.throttle_left = connections
            sockets, self._sockets = self._sockets, []
        for s in sockets:
            _close(s)

    def _slow_down(self, client):
        try:
            client.settimeout(10)
            client.recv(65536)  # the request head; its body, if any, is not waited for
            client.sendall(self.SLOW_DOWN)
        except OSError:
            pass
        finally:
            client.close()

    @staticmethod
    def _pump(src, dst, seen=None):
        try:
            src.settimeout(None)
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if seen is not None:
                    seen.feed(data)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class RequestHeads:
    """Reads the HTTP/1.1 requests of one connection as they pass and appends each one's
    {"method", "target", "headers"} (header names lowercase) to `into` under `lock`.
    Bodies are skipped by Content-Length (S3 clients do not chunk small bodies)."""

    def __init__(self, into, lock):
        self.into = into
        self.lock = lock
        self.buffer = b""
        self.body_left = 0

    def feed(self, data):
        self.buffer += data
        while True:
            skipped = min(self.body_left, len(self.buffer))
            self.buffer = self.buffer[skipped:]
            self.body_left -= skipped
            end = self.buffer.find(b"\r\n\r\n")
            if self.body_left or end < 0:
                return
            head, self.buffer = self.buffer[:end].decode("latin-1"), self.buffer[end + 4:]
            request_line, *lines = head.split("\r\n")
            method, target, _ = request_line.split(" ", 2)
            headers = {}
            for line in lines:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
            self.body_left = int(headers.get("content-length", "0"))
            with self.lock:
                self.into.append({"method": method, "target": target, "headers": headers})


def _close(sock):
    """shutdown() before close(): on Linux only it wakes threads blocked in accept() or
    recv() on the socket, so the port and the connection are really gone."""
    for end in (lambda: sock.shutdown(socket.SHUT_RDWR), sock.close):
        try:
            end()
        except OSError:
            pass
