#!/usr/bin/python3
"""Part PUT throughput and API request rate of audiodrop-server, as ratios.

Starts the real server (build/bin/audiodrop-server) on loopback with a temporary data
dir, then measures in the same run:
  - baseline: writing the same parts to the same disk with fsync per part, plus MD5 of
    every byte (the least work a durable, verified part store can do);
  - PUT of every part to its presigned URL, on one connection and on 4 in parallel;
  - request rate of generate-presigned-urls (1-part files) against GET /healthz on the
    same keep-alive connection.
Bytes are streamed from a file; nothing holds a whole part in memory.

usage: bench/put_throughput.py [--mib 512] [--requests 2000]
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import os
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402
from bench_support import in_pieces, write_random_file  # noqa: E402

CHUNK = 256 * 1024


def baseline(path, size, chunk_size, out_dir):
    start = time.perf_counter()
    md5 = hashlib.md5()
    with open(path, "rb") as src:
        offset, n = 0, 0
        while offset < size:
            n += 1
            part = min(chunk_size, size - offset)
            dst = os.path.join(out_dir, f"part.{n}")
            with open(dst, "wb") as out:
                for buf in in_pieces(part, src.read, CHUNK):
                    md5.update(buf)
                    out.write(buf)
                out.flush()
                os.fsync(out.fileno())
            os.unlink(dst)
            offset += part
    return time.perf_counter() - start


def put_part(url, path, offset, length):
    u = urllib.parse.urlsplit(url)
    conn = http.client.HTTPConnection(u.hostname, u.port, timeout=120)
    conn.putrequest("PUT", u.path + "?" + u.query, skip_accept_encoding=True)
    conn.putheader("Content-Length", str(length))
    conn.endheaders()
    with open(path, "rb") as f:
        f.seek(offset)
        for buf in in_pieces(length, f.read, CHUNK):
            conn.send(buf)
    resp = conn.getresponse()
    resp.read()
    conn.close()
    if resp.status != 200:
        raise RuntimeError(f"PUT answered {resp.status}")


def upload(api, token, path, size, parallel):
    plan = api.start_upload(token, size)
    chunk = plan["ChunkSize"]
    jobs = [(p["PresignedUrl"], path, (p["PartNumber"] - 1) * chunk,
             min(chunk, size - (p["PartNumber"] - 1) * chunk)) for p in plan["Parts"]]
    start = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(parallel) as pool:
        list(pool.map(lambda j: put_part(*j), jobs))
    return time.perf_counter() - start


def request_rate(api, token, count):
    session = harness.http_session()
    start = time.perf_counter()
    for _ in range(count):
        session.get(api.server.base_url + "/healthz", timeout=30).raise_for_status()
    healthz = count / (time.perf_counter() - start)
    start = time.perf_counter()
    for _ in range(count):
        r = session.post(api.server.api_url + "/open/partner/files/upload/generate-presigned-urls",
                         json={"filesize": 1000, "filetype": "mp3"},
                         headers={"Authorization": "Bearer " + token}, timeout=30)
        r.raise_for_status()
    generate = count / (time.perf_counter() - start)
    return healthz, generate


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=512)
    ap.add_argument("--requests", type=int, default=2000)
    args = ap.parse_args()
    size = args.mib * 1024 * 1024
    with harness.Server("--max-open-uploads-per-user", "100000", "--max-open-uploads-per-partner",
                        "100000", "--partner-requests-per-minute", "0") as server:
        api = harness.Api(server)
        cred = harness.create_partner(server)
        token = api.new_user(cred)
        with tempfile.TemporaryDirectory(dir=server.data_dir) as work:
            path = os.path.join(work, "input.bin")
            write_random_file(path, size)
            base = baseline(path, size, 5 * 1024 * 1024, work)
            one = upload(api, token, path, size, 1)
            four = upload(api, token, path, size, 4)
        healthz, generate = request_rate(api, token, args.requests)
    mb = size / 1e6
    print(f"file: {args.mib} MiB in 5 MiB parts")
    print(f"baseline write+fsync+md5 : {mb / base:8.1f} MB/s  1.00x")
    print(f"PUT parts, 1 connection  : {mb / one:8.1f} MB/s  {base / one:.2f}x of baseline")
    print(f"PUT parts, 4 connections : {mb / four:8.1f} MB/s  {base / four:.2f}x of baseline")
    print(f"GET /healthz             : {healthz:8.0f} req/s  1.00x")
    print(f"generate-presigned-urls  : {generate:8.0f} req/s  {generate / healthz:.2f}x of /healthz")


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.cleanup_servers()  # the servers' temp dirs, logs included
