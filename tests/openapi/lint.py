"""Lints docs/openapi.yaml with Redocly's CLI (pinned in package-lock.json here; the
1.34 line, because 2.x needs Node.js 20.19 and Debian 12's nodejs is 18).

`npm ci` runs first when node_modules is missing or older than package-lock.json
(serialised by a lock file, so concurrent runs install once). The recommended rules
apply (redocly.yaml says which exceptions and why); any problem, warnings included,
fails. Telemetry and update checks are off: nothing leaves the machine but `npm ci`.

    /usr/bin/python3 tests/openapi/lint.py
"""

import fcntl
import hashlib
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SPEC = os.path.join(HERE, "..", "..", "docs", "openapi.yaml")
NODE = "/usr/bin/node"
NPM = "/usr/bin/npm"
REDOCLY = os.path.join(HERE, "node_modules", "@redocly", "cli", "bin", "cli.js")
TIMEOUT = 300  # seconds, for npm ci and for the lint


def node_modules_current():
    # npm writes node_modules/.package-lock.json on every install: its time is the install's.
    stamp = os.path.join(HERE, "node_modules", ".package-lock.json")
    lock = os.path.join(HERE, "package-lock.json")
    return (os.path.exists(REDOCLY) and os.path.exists(stamp)
            and os.path.getmtime(stamp) >= os.path.getmtime(lock))


def npm_ci():
    lock_path = os.path.join(tempfile.gettempdir(), "audiodrop-openapi-npm-ci-"
                             + hashlib.sha256(HERE.encode()).hexdigest()[:16] + ".lock")
    with open(lock_path, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if node_modules_current():
            return
        proc = subprocess.run([NPM, "ci", "--no-audit", "--no-fund"], cwd=HERE,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        if proc.returncode != 0 or not node_modules_current():
            sys.exit(f"npm ci in {HERE} failed ({proc.returncode}):\n"
                     + proc.stdout.decode(errors="replace") + proc.stderr.decode(errors="replace"))


def main():
    npm_ci()
    env = dict(os.environ, REDOCLY_TELEMETRY="off", REDOCLY_SUPPRESS_UPDATE_NOTICE="true",
               NO_COLOR="1")
    lint = [NODE, REDOCLY, "lint", os.path.relpath(SPEC, HERE), "--config", "redocly.yaml"]
    proc = subprocess.run(lint + ["--format", "json"], cwd=HERE, env=env,
                          stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
    out = proc.stdout.decode(errors="replace")
    try:
        report = json.loads(out[out.index("{"):])
        problems = [p for p in report["problems"] if not p.get("ignored")]
    except (ValueError, KeyError):
        sys.exit(f"redocly lint exited {proc.returncode} without a JSON report:\n{out}\n"
                 + proc.stderr.decode(errors="replace"))
    if problems or proc.returncode != 0:
        # Again in the readable format, for the log.
        readable = subprocess.run(lint + ["--format", "stylish"], cwd=HERE, env=env,
                                  stdin=subprocess.DEVNULL, capture_output=True, timeout=TIMEOUT)
        sys.stdout.write(readable.stdout.decode(errors="replace"))
        sys.exit(f"docs/openapi.yaml: {len(problems)} lint problem(s); warnings count too")
    print(f"docs/openapi.yaml: no lint problems ({report['totals']['ignored']} ignored "
          "in .redocly.lint-ignore.yaml)")


if __name__ == "__main__":
    main()
