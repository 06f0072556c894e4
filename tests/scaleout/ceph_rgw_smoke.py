#!/usr/bin/python3
"""Smoke test of ceph_rgw.CephRgw: the S3 behaviour the scale-out tests rely on, checked
against the real RGW with boto3 and `requests`, plus start/stop reliability.

Run from tests/scaleout: `/usr/bin/python3 -m unittest ceph_rgw_smoke` (or run this
file). Start time and peak memory are printed to stderr.
"""

import hashlib
import os
import re
import secrets
import sys
import tempfile
import time
import unittest
import xml.etree.ElementTree as ET

import boto3
import botocore.config
import botocore.exceptions
import requests

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from ceph_rgw import HTTP_TIMEOUT, CephRgw  # noqa: E402

MiB = 1024 * 1024
PART_SIZE = 5 * MiB  # S3: every part but the last is at least 5 MiB
LAST_PART_SIZE = 1234
START_STOP_ROUNDS = 3
PRESIGN_SECONDS = 600


def processes_mentioning(text):
    """(pid, command line) of every process whose command line contains text."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue  # exited meanwhile
        if text in cmdline:
            found.append((int(entry), cmdline.strip()))
    return found


def peak_rss_mib(pids):
    """Sum of the processes' peak resident set sizes (VmHWM), in MiB."""
    total_kib = 0
    for pid in pids:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    total_kib += int(line.split()[1])
    return total_kib / 1024


def s3_client(rgw, secret_key=None, region=None):
    return boto3.client(
        "s3",
        endpoint_url=rgw.endpoint,
        aws_access_key_id=rgw.access_key,
        aws_secret_access_key=secret_key or rgw.secret_key,
        region_name=region or rgw.region,
        config=botocore.config.Config(
            signature_version="s3v4",
            s3={"addressing_style": "path"},
            connect_timeout=HTTP_TIMEOUT,
            read_timeout=HTTP_TIMEOUT,
            retries={"max_attempts": 1},
            proxies={},
        ),
    )


def s3_error_code(response):
    return ET.fromstring(response.content).findtext("Code")


class RgwS3Test(unittest.TestCase):
    """One RGW for all tests here; each test uses its own bucket."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.TemporaryDirectory(prefix="audiodrop-ceph-smoke-")
        cls.rgw = CephRgw(cls.workdir.name)
        started = time.monotonic()
        cls.rgw.start()
        print(f"\nRGW started in {time.monotonic() - started:.2f} s", file=sys.stderr)
        cls.s3 = s3_client(cls.rgw)
        cls.http = requests.Session()
        cls.http.trust_env = False  # loopback only: no proxy from the environment

    @classmethod
    def tearDownClass(cls):
        pids = [pid for pid, _ in processes_mentioning(cls.workdir.name)]
        print(f"\nRGW daemons' peak RSS: {peak_rss_mib(pids):.0f} MiB", file=sys.stderr)
        cls.http.close()
        cls.rgw.stop()
        cls.workdir.cleanup()

    def new_bucket(self):
        bucket = f"smoke-{secrets.token_hex(4)}"
        self.s3.create_bucket(Bucket=bucket)
        return bucket

    def presigned_upload_part_url(self, bucket, key, upload_id, part_number, s3=None):
        return (s3 or self.s3).generate_presigned_url(
            "upload_part",
            Params={"Bucket": bucket, "Key": key, "UploadId": upload_id, "PartNumber": part_number},
            ExpiresIn=PRESIGN_SECONDS,
        )

    def test_multipart_upload_through_presigned_part_urls_then_get_and_delete(self):
        bucket, key = self.new_bucket(), "recordings/one.mp3"
        parts_data = [os.urandom(PART_SIZE), os.urandom(LAST_PART_SIZE)]
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]

        etags = []
        for number, data in enumerate(parts_data, start=1):
            url = self.presigned_upload_part_url(bucket, key, upload_id, number)
            response = self.http.put(url, data=data, timeout=HTTP_TIMEOUT)
            self.assertEqual(response.status_code, 200, response.text)
            self.assertEqual(response.headers["ETag"], f'"{hashlib.md5(data).hexdigest()}"')
            etags.append(response.headers["ETag"])

        listed = self.s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id)["Parts"]
        self.assertEqual(
            [(p["PartNumber"], p["ETag"], p["Size"]) for p in listed],
            [(1, etags[0], PART_SIZE), (2, etags[1], LAST_PART_SIZE)],
        )

        parts = [{"PartNumber": n, "ETag": etag} for n, etag in enumerate(etags, start=1)]
        completed = self.s3.complete_multipart_upload(
            Bucket=bucket, Key=key, UploadId=upload_id, MultipartUpload={"Parts": parts}
        )
        # An RGW 16.2 quirk: the answer's ETag is empty, so a client must HEAD for it.
        self.assertEqual(completed["ETag"], "")
        head = self.s3.head_object(Bucket=bucket, Key=key)
        part_md5s = b"".join(hashlib.md5(data).digest() for data in parts_data)
        self.assertEqual(head["ETag"], f'"{hashlib.md5(part_md5s).hexdigest()}-2"')
        self.assertEqual(head["ContentLength"], PART_SIZE + LAST_PART_SIZE)
        body = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        self.assertEqual(body, b"".join(parts_data))

        self.s3.delete_object(Bucket=bucket, Key=key)
        with self.assertRaises(botocore.exceptions.ClientError) as missing:
            self.s3.head_object(Bucket=bucket, Key=key)
        self.assertEqual(missing.exception.response["Error"]["Code"], "404")
        self.s3.delete_bucket(Bucket=bucket)

    def test_aborted_upload_is_gone_and_refuses_parts(self):
        bucket, key = self.new_bucket(), "aborted.mp3"
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        url = self.presigned_upload_part_url(bucket, key, upload_id, 1)
        response = self.http.put(url, data=b"x" * 100, timeout=HTTP_TIMEOUT)
        self.assertEqual(response.status_code, 200)

        self.s3.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

        self.assertNotIn("Uploads", self.s3.list_multipart_uploads(Bucket=bucket))
        response = self.http.put(url, data=b"y" * 100, timeout=HTTP_TIMEOUT)
        self.assertEqual((response.status_code, s3_error_code(response)), (404, "NoSuchUpload"))

    def test_tampered_presigned_signature_is_refused(self):
        bucket, key = self.new_bucket(), "tampered.mp3"
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        url = self.presigned_upload_part_url(bucket, key, upload_id, 1)
        signature = re.search(r"X-Amz-Signature=([0-9a-f]{64})", url).group(1)
        flipped = ("1" if signature[0] == "0" else "0") + signature[1:]

        tampered = url.replace(signature, flipped)

        response = self.http.put(tampered, data=b"z" * 100, timeout=HTTP_TIMEOUT)

        self.assertEqual(
            (response.status_code, s3_error_code(response)), (403, "SignatureDoesNotMatch")
        )
        self.assertNotIn("Parts", self.s3.list_parts(Bucket=bucket, Key=key, UploadId=upload_id))

    def test_presigned_url_signed_with_wrong_secret_key_is_refused(self):
        bucket, key = self.new_bucket(), "wrong-secret.mp3"
        upload_id = self.s3.create_multipart_upload(Bucket=bucket, Key=key)["UploadId"]
        wrong_secret = s3_client(self.rgw, secret_key=self.rgw.secret_key[::-1])
        url = self.presigned_upload_part_url(bucket, key, upload_id, 1, s3=wrong_secret)

        response = self.http.put(url, data=b"z" * 100, timeout=HTTP_TIMEOUT)

        self.assertEqual(
            (response.status_code, s3_error_code(response)), (403, "SignatureDoesNotMatch")
        )

    def test_any_region_signs_but_create_bucket_location_must_be_the_zonegroup(self):
        bucket = self.new_bucket()
        for region in ("us-east-1", "eu-west-1", "default"):
            with self.subTest(region=region):
                s3 = s3_client(self.rgw, region=region)
                url = s3.generate_presigned_url("list_objects_v2", Params={"Bucket": bucket})
                self.assertIn(f"%2F{region}%2Fs3%2F", url)
                self.assertEqual(self.http.get(url, timeout=HTTP_TIMEOUT).status_code, 200)

        with self.assertRaises(botocore.exceptions.ClientError) as refused:
            self.s3.create_bucket(
                Bucket=f"smoke-{secrets.token_hex(4)}",
                CreateBucketConfiguration={"LocationConstraint": "eu-west-1"},
            )
        error_code = refused.exception.response["Error"]["Code"]
        self.assertEqual(error_code, "InvalidLocationConstraint")

    def test_make_bucket_creates_a_bucket_the_user_owns(self):
        bucket = f"smoke-{secrets.token_hex(4)}"
        self.rgw.make_bucket(bucket)
        self.assertIn(bucket, [b["Name"] for b in self.s3.list_buckets()["Buckets"]])


class StartStopTest(unittest.TestCase):
    def test_start_stop_rounds_leave_no_process_behind(self):
        for round_number in range(1, START_STOP_ROUNDS + 1):
            with (
                self.subTest(round=round_number),
                tempfile.TemporaryDirectory(prefix="audiodrop-ceph-smoke-") as workdir,
            ):
                rgw = CephRgw(workdir)
                started = time.monotonic()
                rgw.start()
                start_seconds = time.monotonic() - started
                try:
                    rgw.make_bucket("round")
                    daemons = processes_mentioning(workdir)
                    self.assertEqual(len(daemons), 3, daemons)  # mon, osd, radosgw
                    rss = peak_rss_mib(pid for pid, _ in daemons)
                finally:
                    stopped = time.monotonic()
                    rgw.stop()
                    stop_seconds = time.monotonic() - stopped
                rgw.stop()  # idempotent
                self.assertEqual(processes_mentioning(workdir), [])
                print(
                    f"\nround {round_number}: start {start_seconds:.2f} s, "
                    f"stop {stop_seconds:.2f} s, peak RSS {rss:.0f} MiB",
                    file=sys.stderr,
                )


if __name__ == "__main__":
    unittest.main()
