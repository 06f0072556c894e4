#!/usr/bin/python3
"""Upload throughput of @audiodrop/client in headless Chromium against the `audiodrop`
CLI, as ratios, on one server and one file in the same run.

Starts the built server on loopback (SQLite, local disk) allowing a page origin served
by tests/browser's static site, then alternates, --runs times each:
  - browser: tests/browser/pages/client.html uploads the file through the client
    (--concurrency parts in flight, MD5 alongside, as a web app would), timed inside
    the page from upload() to its result, so Chromium's start is not counted;
  - CLI: `audiodrop upload FILE --parallel --concurrency`, timed around the process.
Both send file_md5, which the server checks. Prints each run and the medians.

usage: bench/browser_upload.py [--mib 256] [--runs 3] [--concurrency 4]
Needs the build (server, CLI and build/web) and tests/browser's npm packages.
"""
import argparse
import os
import statistics
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "browser"))
import browser  # noqa: E402
import harness  # noqa: E402


def browser_run(site, server, token, path, concurrency, verify_md5=True):
    got = browser.drive("client", pageUrl=site.url("client.html"), file=path,
                        timeoutMs=600_000,
                        upload={"baseUrl": server.api_url, "token": token,
                                "concurrency": concurrency, "resume": False,
                                "verifyMd5": verify_md5})
    if not got.get("result"):
        raise RuntimeError("browser upload failed:\n" + browser.summary(got))
    return got["elapsedMs"] / 1000.0, got["result"]["FileMd5"]


def cli_run(cli, server, token, path, concurrency, state_dir):
    began = time.perf_counter()
    subprocess.run([cli, "upload", path, "--endpoint", server.api_url, "--token", token,
                    "--parallel", str(concurrency), "--no-resume", "--quiet",
                    "--state-dir", state_dir],
                   check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - began


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mib", type=int, default=256)
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--concurrency", type=int, default=4)
    args = ap.parse_args()
    cli = harness.built_binary("AUDIODROP_CLI", "audiodrop")
    browser.npm_ci()
    try:
        path, md5 = browser.random_file(args.mib * harness.MiB)
        with browser.StaticSite() as site, \
                harness.Server("--cors-allowed-origins", site.origin) as server:
            api = harness.Api(server)
            token = api.new_user(harness.create_partner(server))
            state_dir = os.path.join(server.data_dir, "cli-state")
            times = {"browser": [], "cli": []}
            for run in range(1, args.runs + 1):
                seconds, got_md5 = browser_run(site, server, token, path, args.concurrency)
                if got_md5 != md5:
                    raise RuntimeError(f"browser run {run}: FileMd5 {got_md5}, file's {md5}")
                times["browser"].append(seconds)
                times["cli"].append(cli_run(cli, server, token, path, args.concurrency,
                                            state_dir))
                print(f"run {run}: browser {args.mib / times['browser'][-1]:7.1f} MiB/s   "
                      f"CLI {args.mib / times['cli'][-1]:7.1f} MiB/s", flush=True)
        browser_rate = args.mib / statistics.median(times["browser"])
        cli_rate = args.mib / statistics.median(times["cli"])
        print(f"\n{args.mib} MiB, {args.concurrency} parts in flight, medians of {args.runs}:")
        print(f"  @audiodrop/client in Chromium  {browser_rate:7.1f} MiB/s")
        print(f"  audiodrop CLI                  {cli_rate:7.1f} MiB/s")
        print(f"  browser / CLI                  {browser_rate / cli_rate:7.2f}x")
    finally:
        browser.cleanup_files()


if __name__ == "__main__":
    main()
