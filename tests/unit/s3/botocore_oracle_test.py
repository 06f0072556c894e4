#!/usr/bin/python3
"""Our SigV4 against botocore's, as an oracle, over generated inputs.

Usage: botocore_oracle_test.py PATH_TO_sigv4_presign_tool

For a fixed seed, generates presign cases (random keys, paths and query values full of
unicode, space, + = ~ ! ' ( ) * & ? # %, random times, expiries, methods, endpoints and
regions, with partNumber/uploadId), presigns each with botocore.auth.S3SigV4QueryAuth at a
frozen time, and requires the tool's URL to be byte-identical. Every botocore URL must
then pass our verifier inside its validity window, and be refused once expired or under
another secret. Header signing (S3SigV4Auth) is compared the same way.
"""

import datetime
import hashlib
import json
import random
import subprocess
import sys
import types
import contextlib
from contextlib import contextmanager
from unittest import mock

import botocore.auth
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

SEED = 20130524
PRESIGN_CASES = 400
HEADER_CASES = 150

# Characters that stress encoding: reserved, sub-delims, space, '%', multi-byte UTF-8
# (2, 3 and 4 bytes).
TRICKY = list(" +=~!'()*&?#%:@,;$[]^`{}|\\\"<>-._") + ["é", "ß", "日本", "€", "🎵", "\u00a0"]
PLAIN = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789")


@contextmanager
def frozen_time(unix_seconds):
    """Freezes the clock botocore.auth reads, whether it calls utcnow() or now(tz)."""
    naive = datetime.datetime(1970, 1, 1) + datetime.timedelta(seconds=unix_seconds)

    class FrozenDateTime(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return naive

        @classmethod
        def now(cls, tz=None):
            return naive.replace(tzinfo=datetime.timezone.utc).astimezone(tz) if tz else naive

    fake = types.SimpleNamespace(
        datetime=FrozenDateTime, timezone=datetime.timezone, timedelta=datetime.timedelta
    )
    with contextlib.ExitStack() as patches:
        # botocore <= 1.34 calls datetime.datetime.utcnow(); later ones a helper of compat.
        patches.enter_context(mock.patch.object(botocore.auth, "datetime", fake))
        if hasattr(botocore.auth, "get_current_datetime"):
            patches.enter_context(
                mock.patch.object(botocore.auth, "get_current_datetime", lambda *a, **k: naive)
            )
        yield


def text(rng, low, high, tricky_share=0.3):
    return "".join(
        rng.choice(TRICKY) if rng.random() < tricky_share else rng.choice(PLAIN)
        for _ in range(rng.randint(low, high))
    )


def endpoint(rng):
    scheme = rng.choice(["http", "https"])
    host = rng.choice(
        ["localhost", "127.0.0.1", "S3.Example.COM", "storage.example.test", "[::1]", "minio"]
    )
    port = rng.choice([None, None, 80, 443, 9000, rng.randint(1024, 65535)])
    return f"{scheme}://{host}" + (f":{port}" if port else "")


def object_path(rng):
    bucket = "".join(rng.choice("abcdefghijklmnopqrstuvwxyz0123456789-") for _ in range(8))
    segments = [text(rng, 0 if rng.random() < 0.1 else 1, 12) for _ in range(rng.randint(1, 4))]
    return f"/{bucket}/" + "/".join(segments)


def query(rng):
    params = {}
    if rng.random() < 0.6:
        params["partNumber"] = str(rng.randint(1, 10000))
        params["uploadId"] = text(rng, 1, 40)
    for _ in range(rng.randint(0, 3)):
        name = text(rng, 1, 10)
        if not name.lower().startswith("x-amz-"):
            params[name] = text(rng, 0, 16) if rng.random() < 0.9 else ""
    keys = list(params)
    rng.shuffle(keys)  # botocore keeps the order given; so must we
    return {k: params[k] for k in keys}


def base_case(rng):
    return {
        "access_key": "AKIA"
        + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)),
        "secret_key": "".join(rng.choice(PLAIN + list("/+")) for _ in range(40))
        + (rng.choice(["", "é/+="]) if rng.random() < 0.1 else ""),
        "method": rng.choice(["PUT", "GET", "HEAD"]),
        "endpoint": endpoint(rng),
        "path": object_path(rng),
        "query": query(rng),
        "time": rng.randint(946684800, 4102444799),  # 2000..2099
        "region": rng.choice(["us-east-1", "eu-west-1", "ap-southeast-2", "auto", "local"]),
    }


def url_of(case):
    # What botocore's S3 serializer does with Bucket and Key: encode once, keep '/' and '~'.
    return case["endpoint"] + percent_encode(case["path"], safe="/~")


def botocore_presign(case):
    auth = S3SigV4QueryAuth(
        Credentials(case["access_key"], case["secret_key"]), "s3", case["region"], case["expires"]
    )
    request = AWSRequest(method=case["method"], url=url_of(case), params=dict(case["query"]))
    with frozen_time(case["time"]):
        auth.add_auth(request)
    stamp = datetime.datetime.fromtimestamp(case["time"], datetime.timezone.utc)
    if f"X-Amz-Date={stamp:%Y%m%dT%H%M%SZ}&" not in request.url:
        sys.exit(f"botocore {botocore.__version__} ignored the frozen clock: {request.url}")
    return request.url


def botocore_authorization(case):
    auth = S3SigV4Auth(Credentials(case["access_key"], case["secret_key"]), "s3", case["region"])
    request = AWSRequest(
        method=case["method"],
        url=url_of(case),
        params=dict(case["query"]),
        headers=dict(case["headers"]),
        data=case["body"],
    )
    with frozen_time(case["time"]):
        auth.add_auth(request)
    return request.headers["Authorization"]


def header_case(rng):
    case = base_case(rng)
    if rng.random() < 0.2:
        case["query"] = {"uploads": ""}
    headers = {}
    if rng.random() < 0.5:
        headers["Content-Type"] = rng.choice(
            ["audio/mpeg", "  application/xml ", "text/plain;  charset=utf-8"]
        )
    if rng.random() < 0.3:
        headers["Content-MD5"] = "1B2M2Y8AsgTpgAmY7PhCfg=="
    if rng.random() < 0.3:
        headers["Range"] = f"bytes={rng.randint(0, 99)}-{rng.randint(100, 999)}"
    if rng.random() < 0.3:
        headers["x-amz-meta-Note"] = "  two   spaces  inside "
    case["headers"] = headers
    case["body"] = rng.randbytes(rng.choice([0, 1, 100])) if case["method"] == "PUT" else b""
    return case


def run_tool(tool, cases):
    lines = "".join(json.dumps(c) + "\n" for c in cases)
    done = subprocess.run([tool], input=lines, capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        sys.exit(f"{tool} failed ({done.returncode}): {done.stderr}")
    out = done.stdout.splitlines()
    if len(out) != len(cases):
        sys.exit(f"{tool} answered {len(out)} lines for {len(cases)} cases")
    return out


def compare(kind, cases, got, want, failures):
    for case, g, w in zip(cases, got, want):
        if g != w:
            failures.append(
                f"{kind} differs for {json.dumps(case, ensure_ascii=False)}\n"
                f"  ours:     {g}\n  botocore: {w}"
            )


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    tool = sys.argv[1]
    rng = random.Random(SEED)
    failures = []

    presigns = []
    for _ in range(PRESIGN_CASES):
        case = base_case(rng)
        case["expires"] = rng.choice([1, 60, 3600, 86400, 604800, rng.randint(1, 604800)])
        presigns.append(case)
    wanted_urls = [botocore_presign(c) for c in presigns]
    tool_cases = [dict(c, op="presign", query=list(c["query"].items())) for c in presigns]
    compare("presigned URL", presigns, run_tool(tool, tool_cases), wanted_urls, failures)

    verifies, expectations = [], []
    for case, url in zip(presigns, wanted_urls):
        host = botocore.auth._host_from_url(url)  # the Host botocore signed, as clients send it
        check = dict(
            op="verify", url=url, host=host, method=case["method"], region=case["region"],
            access_key=case["access_key"], secret_key=case["secret_key"],
        )
        inside = case["time"] + rng.randint(-900, case["expires"])
        verifies.append(dict(check, time=inside))
        expectations.append("OK")
        verifies.append(dict(check, time=case["time"] + case["expires"] + 1))
        expectations.append("AccessDenied Request has expired")
        verifies.append(dict(check, time=case["time"], secret_key=case["secret_key"] + "x"))
        expectations.append("SignatureDoesNotMatch")
    answers = run_tool(tool, verifies)
    for case, got, want in zip(verifies, answers, expectations):
        if not got.startswith(want):
            failures.append(
                f"verify of {case['url']} at {case['time']}: got '{got}', want '{want}'"
            )

    headers = [header_case(rng) for _ in range(HEADER_CASES)]
    wanted_auth = [botocore_authorization(c) for c in headers]
    tool_cases = [
        dict(
            {k: v for k, v in c.items() if k != "body"},
            op="sign_headers",
            query=list(c["query"].items()),
            headers=list(c["headers"].items()),
            payload_hash=hashlib.sha256(c["body"]).hexdigest(),
        )
        for c in headers
    ]
    compare("Authorization", headers, run_tool(tool, tool_cases), wanted_auth, failures)

    total = len(presigns) + len(verifies) + len(headers)
    if failures:
        print(f"{len(failures)} of {total} checks disagree with botocore; first ones:")
        for f in failures[:10]:
            print(f)
        print(f"{total - len(failures)} passed, {len(failures)} failed")
        return 1
    print(
        f"botocore agrees: {len(presigns)} presigned URLs, {len(verifies)} verifications, "
        f"{len(headers)} Authorization headers"
    )
    print(f"{total} passed, 0 failed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
