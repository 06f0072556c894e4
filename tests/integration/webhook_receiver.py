"""A webhook receiver on loopback for the tests: verifies both signatures of every
delivery the way docs/API.md shows a partner doing it, records what arrived, and answers
as the test tells it to (a status, a stall, an endless body)."""

import base64
import hashlib
import hmac
import http.server
import json
import threading
import time


def verify_plaud(secret, headers, body):
    """Plaud's scheme: HMAC-SHA256 keyed with the whole secret over "<timestamp>.<body>"."""
    timestamp = headers.get("Plaud-Timestamp", "")
    expected = "sha256=" + hmac.new(secret.encode(), timestamp.encode() + b"." + body,
                                    hashlib.sha256).hexdigest()
    signatures = headers.get("Plaud-Signature", "").split(",")
    return any(hmac.compare_digest(expected, s.strip()) for s in signatures)


def verify_standard(secret, headers, body):
    """Standard Webhooks: keyed with the base64 after "whsec_", over "<id>.<timestamp>.<body>"."""
    key = base64.b64decode(secret.removeprefix("whsec_"))
    signed = f"{headers.get('webhook-id')}.{headers.get('webhook-timestamp')}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    signatures = headers.get("webhook-signature", "").split(" ")
    return any(s.startswith("v1,") and hmac.compare_digest(expected, s[3:]) for s in signatures)


def verified(secret, headers, body, tolerance=300):
    """Both signatures hold for `secret` and the timestamps are recent and agree."""
    try:
        fresh = abs(time.time() - int(headers.get("webhook-timestamp", "0"))) <= tolerance
    except ValueError:
        return False
    return (fresh and headers.get("webhook-timestamp") == headers.get("Plaud-Timestamp")
            and verify_plaud(secret, headers, body) and verify_standard(secret, headers, body))


class Delivery:
    def __init__(self, headers, body):
        self.headers = headers
        self.body = body
        self.json = json.loads(body)
        self.arrived = time.monotonic()


class Receiver:
    """Start with `with Receiver() as r:`; set `secret` once known. `statuses` is a list of
    statuses to answer, in order (200 once it runs out); `hold` makes every request wait
    until released; `endless` answers 200 with a body that never ends."""

    def __init__(self):
        self.secret = None
        self.statuses = []
        self.deliveries = []   # verified, in arrival order
        self.rejected = []     # failed verification
        self.requests = 0
        self.hold = threading.Event()
        self.release = threading.Event()
        self.endless = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                with receiver.lock:
                    receiver.requests += 1
                if receiver.hold.is_set():
                    receiver.release.wait(60)
                    return  # the connection closes without an answer
                if receiver.endless:
                    self.send_response(200)
                    self.end_headers()
                    try:
                        for _ in range(100_000):  # ~6 GB at most; the sender cuts it far sooner
                            self.wfile.write(b"x" * 65536)
                    except OSError:
                        pass
                    return
                headers = {k: v for k, v in self.headers.items()}
                ok = receiver.secret is not None and verified(receiver.secret, headers, body)
                with receiver.lock:
                    if ok:
                        receiver.deliveries.append(Delivery(headers, body))
                        status = receiver.statuses.pop(0) if receiver.statuses else 200
                    else:
                        receiver.rejected.append((headers, body))
                        status = 400
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def events(self, kind=None):
        with self.lock:
            return [d for d in self.deliveries if kind is None or d.json["event"] == kind]

    def wait_event(self, kind, count=1, timeout=30, where=None):
        """The first `count` deliveries of `kind` (whose data satisfies `where`)."""
        deadline = time.monotonic() + timeout
        for _ in range(int(timeout / 0.02) + 1):
            found = [d for d in self.events(kind) if where is None or where(d.json["data"])]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                break
            time.sleep(0.02)
        raise AssertionError(f"timed out after {timeout} s waiting for {count} {kind} "
                             f"deliveries; have {[d.json for d in self.events()]}, "
                             f"{len(self.rejected)} rejected")
