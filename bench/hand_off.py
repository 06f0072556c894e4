#!/usr/bin/python3
"""What handing a file on costs: the latency from a complete-upload's answer to the
file.uploaded delivery at a receiver on loopback, and the time the audio probe takes
per file.

Starts one real audiodrop-server on loopback (SQLite, local disk) with a webhook
subscription to a Python receiver that verifies both signatures, then:

  latency   --rounds uploads of a short mp3; for each, the time from complete's 200 to
            the verified delivery. Baseline, measured in the same run: a signed POST of
            the same body straight from this process to the same receiver (what a
            delivery cannot beat). Printed as medians and their ratio.
  probe     for each of mp3, m4a (index at the end), wav, ogg/opus and flac of
            --minutes of audio: the server's own probe time (from /metrics,
            audiodrop_probe_seconds_total) per file, beside the time to MD5 the same
            bytes here (the least any look at the bytes costs), medians of --rounds.

  bench/hand_off.py [--rounds 20] [--minutes 3]
"""

import argparse
import hashlib
import os
import statistics
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import harness  # noqa: E402
from audio_files import make_audio  # noqa: E402
from webhook_receiver import Receiver  # noqa: E402




def direct_post(receiver, body):
    """A POST like a delivery's, from here: the floor of any delivery's latency."""
    with harness.http_session() as http:
        began = time.monotonic()
        http.post(receiver.url, data=body, headers={"Content-Type": "application/json"},
                  timeout=harness.TIMEOUT)
        return time.monotonic() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=20)
    parser.add_argument("--minutes", type=float, default=3.0)
    args = parser.parse_args()

    server = harness.Server("--webhook-allow-http", "--webhook-allow-private")
    server.start()
    api = harness.Api(server)
    try:
        partner = harness.create_partner(server)
        token = api.new_user(partner)
        with Receiver() as receiver:
            partner_token = api.partner_tokens(partner)["access_token"]
            made = api.request("POST", "/open/partner/webhooks", token=partner_token,
                               json_body={"url": receiver.url, "events": ["file.uploaded"]})
            receiver.secret = made.json()["Secret"]

            short = make_audio("mp3", 2.0)
            latencies, floors = [], []
            for _ in range(args.rounds):
                plan = api.start_upload(token, len(short), "mp3")
                etags = harness.put_all_parts(plan, short)
                resp = api.complete(token, plan["FileId"], plan["UploadId"],
                                    harness.part_list(etags), "mp3")
                answered = time.monotonic()
                assert resp.status_code == 200, resp.text
                [d] = receiver.wait_event("file.uploaded",
                                          where=lambda data: data["FileId"] == plan["FileId"])
                latencies.append(d.arrived - answered)
                floors.append(direct_post(receiver, d.body))
            lat, floor = statistics.median(latencies), statistics.median(floors)
            print(f"complete -> verified delivery: median {lat * 1000:.1f} ms over "
                  f"{args.rounds} (p90 {sorted(latencies)[int(0.9 * len(latencies))] * 1000:.1f} ms); "
                  f"a direct POST of the same body: {floor * 1000:.1f} ms; ratio {lat / floor:.1f}x")

        seconds = args.minutes * 60
        print(f"probe of {args.minutes:g} min of audio, median of {args.rounds}:")
        for filetype in ("mp3", "m4a", "wav", "opus", "flac"):
            data = make_audio(filetype, seconds)
            probe_us, md5_us = [], []
            for _ in range(args.rounds):
                before = harness.metric(server, "audiodrop_probe_seconds_total")
                api.upload_file(token, data, filetype)
                probe_us.append(
                    (harness.metric(server, "audiodrop_probe_seconds_total") - before) * 1e6)
                began = time.perf_counter()
                hashlib.md5(data).hexdigest()
                md5_us.append((time.perf_counter() - began) * 1e6)
            p, m = statistics.median(probe_us), statistics.median(md5_us)
            print(f"  {filetype:5} {len(data) / 1e6:7.2f} MB: probe {p / 1000:7.2f} ms, "
                  f"MD5 of the file {m / 1000:6.2f} ms, ratio {p / m:5.1f}x")
    finally:
        api.close()
        server.stop()
        harness.cleanup_servers()


if __name__ == "__main__":
    main()
