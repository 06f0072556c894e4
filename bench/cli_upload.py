#!/usr/bin/python3
"""Upload throughput of the `audiodrop` CLI against a local audiodrop-server, as ratios.

Starts the built server on loopback with a temporary data dir and measures, in the same
run and on the same disk:
  - baseline: writing the file's bytes with fsync (dd conv=fsync) plus `md5sum` of them;
  - `audiodrop upload` of the file at --parallel 1 and 4 (the whole flow: generate,
    PUT every part, complete with file_md5, which the server verifies).

usage: bench/cli_upload.py [--mib 1024]
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "tests", "integration"))
import harness  # noqa: E402


def timed(cmd, **kw):
    start = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, **kw)
    return time.perf_counter() - start


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mib", type=int, default=1024)
    args = ap.parse_args()
    cli = harness.built_binary("AUDIODROP_CLI", "audiodrop")
    with harness.Server() as server:
        api = harness.Api(server)
        token = api.new_user(harness.create_partner(server))
        with tempfile.TemporaryDirectory(dir=server.data_dir) as work:
            path = os.path.join(work, "recording.wav")
            subprocess.run(["dd", "if=/dev/urandom", f"of={path}", "bs=1M", f"count={args.mib}",
                            "status=none"], check=True)
            copy = os.path.join(work, "copy.bin")
            base = timed(["dd", f"if={path}", f"of={copy}", "bs=4M", "conv=fsync", "status=none"])
            base += timed(["md5sum", path])
            os.unlink(copy)
            env = dict(os.environ, AUDIODROP_TOKEN=token)
            results = {}
            for parallel in (1, 4):
                results[parallel] = timed([cli, "upload", path, "--endpoint", server.api_url,
                                           "--parallel", str(parallel), "--quiet", "--no-resume"],
                                          env=env)
    mb = args.mib * 1024 * 1024 / 1e6
    print(f"file: {args.mib} MiB")
    print(f"baseline dd conv=fsync + md5sum : {mb / base:8.1f} MB/s  1.00x")
    for parallel, seconds in results.items():
        print(f"audiodrop upload --parallel {parallel}  : {mb / seconds:8.1f} MB/s  "
              f"{base / seconds:.2f}x of baseline")


if __name__ == "__main__":
    try:
        main()
    finally:
        harness.cleanup_servers()  # the servers' temp dirs, logs included
