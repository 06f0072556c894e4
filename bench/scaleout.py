#!/usr/bin/python3
"""What the scale-out mode costs and gives, as ratios measured in one run.

Starts a throwaway PostgreSQL and a single-node Ceph RGW on loopback (the scale-out
test fixtures), two audiodrop-server replicas on them, and one server on the embedded
default, then measures:
  - complete-upload of a large file on S3, against the least it can cost: reading the
    same object back from the same RGW and hashing it with MD5 (FileMd5 needs exactly
    that read);
  - generate-presigned-urls request rate on one replica, against boto3 calling
    CreateMultipartUpload on the same RGW directly (one of those is inside every
    generate), and against the embedded default (SQLite), 4 client threads each;
  - the same load spread over both replicas, against one replica.
On a 2-core machine that also runs PostgreSQL and Ceph, the last ratio shows contention
more than scale; on separate machines replicas add capacity.

usage: bench/scaleout.py [--mib 256] [--seconds 5]
"""
import argparse
import concurrent.futures
import hashlib
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "scaleout"))
import scaleout_harness as sh  # noqa: E402
import harness  # noqa: E402
from bench_support import get_and_md5  # noqa: E402


def put_file(api, token, data):
    plan = api.start_upload(token, len(data))
    etags = harness.put_all_parts(plan, data, parallel=4)
    return plan, harness.part_list(etags)


def generate_rate(servers, seconds, threads=4):
    """generate-presigned-urls per second, `threads` clients spread over `servers`."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def client(i):
        server = servers[i % len(servers)]
        api = harness.Api(server)
        token = api.new_user(CRED[server])
        s = harness.http_session()
        url = server.api_url + "/open/partner/files/upload/generate-presigned-urls"
        while time.monotonic() < stop:
            r = s.post(url, json={"filesize": 1000, "filetype": "mp3"},
                       headers={"Authorization": "Bearer " + token}, timeout=30)
            r.raise_for_status()
            counts[i] += 1
        s.close()
        api.close()

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    return sum(counts) / (time.monotonic() - start)


CRED = {}


def create_multipart_rate(backends, seconds, threads=4):
    """CreateMultipartUpload per second straight to the RGW, `threads` boto3 clients."""
    stop = time.monotonic() + seconds
    counts = [0] * threads

    def client(i):
        s3 = backends._make_s3_client()
        while time.monotonic() < stop:
            s3.create_multipart_upload(Bucket=sh.BUCKET, Key=f"bench-{i}-{counts[i]}")
            counts[i] += 1
        s3.close()

    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(threads) as pool:
        list(pool.map(client, range(threads)))
    return sum(counts) / (time.monotonic() - start)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    quota = ("--max-open-uploads-per-user", "1000000", "--max-open-uploads-per-partner", "1000000",
             "--max-open-bytes-per-partner", str(1 << 60), "--partner-requests-per-minute", "0")
    backends = sh.Backends().start()
    try:
        with backends.replica(*quota) as a, backends.replica(*quota) as b, \
                harness.Server(*quota) as embedded:
            for server in (a, b, embedded):
                CRED[server] = harness.create_partner(server)
            api_a, api_b = harness.Api(a), harness.Api(b)
            token = api_a.new_user(CRED[a])
            data = os.urandom(args.mib * 1024 * 1024)
            plan, parts = put_file(api_a, token, data)
            start = time.perf_counter()
            done = api_b.complete(token, plan["FileId"], plan["UploadId"], parts)
            complete_s = time.perf_counter() - start
            assert done.status_code == 200, done.text
            assert done.json()["FileMd5"] == hashlib.md5(data).hexdigest()
            del data
            read_s, md5 = get_and_md5(done.json()["DownloadUrl"])
            assert md5 == done.json()["FileMd5"]

            s3_rate = create_multipart_rate(backends, args.seconds)
            embedded_rate = generate_rate([embedded], args.seconds)
            one_rate = generate_rate([a], args.seconds)
            two_rate = generate_rate([a, b], args.seconds)
    finally:
        backends.stop()

    mb = args.mib * 1.048576
    print(f"file: {args.mib} MiB on Ceph RGW, completed on the other replica")
    print(f"baseline GET + md5 from RGW         : {mb / read_s:8.1f} MB/s  1.00x")
    print(f"complete-upload (S3 complete + MD5) : {mb / complete_s:8.1f} MB/s  "
          f"{read_s / complete_s:.2f}x of baseline ({complete_s:.2f} s)")
    print(f"boto3 CreateMultipartUpload on RGW  : {s3_rate:8.0f} req/s  1.00x")
    print(f"generate-presigned-urls, 1 replica  : {one_rate:8.0f} req/s  "
          f"{one_rate / s3_rate:.2f}x of CreateMultipartUpload")
    print(f"generate-presigned-urls, embedded   : {embedded_rate:8.0f} req/s  "
          f"{embedded_rate / s3_rate:.2f}x of CreateMultipartUpload")
    print(f"generate-presigned-urls, 2 replicas : {two_rate:8.0f} req/s  "
          f"{two_rate / one_rate:.2f}x of 1 replica")


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.cleanup_servers()  # the servers' temp dirs, logs included
