#!/usr/bin/env bash
# Compares audiodrop with peer upload servers on this machine, in one run.
# Installs what is missing (wrk and openssl from Debian, the pinned Node peers,
# the audiodrop build), then runs bench/peers.py with the given options:
#   bash bench/peers.sh [--mib 1024] [--runs 3] [--only ROW,...] [--skip-s3] [--json FILE]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

missing=()
command -v wrk >/dev/null 2>&1 || missing+=(wrk)
command -v openssl >/dev/null 2>&1 || missing+=(openssl)
if [ "${#missing[@]}" -gt 0 ]; then
  echo "peers.sh: installing ${missing[*]} from Debian" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi

# The peers, at the exact versions package-lock.json pins.
(
  cd "$here/peers"
  if [ -f package-lock.json ]; then
    npm ci --no-audit --no-fund --loglevel=error
  else
    npm install --no-audit --no-fund --loglevel=error
  fi
) >&2

if [ ! -x "$root/build/bin/audiodrop-server" ] || [ ! -x "$root/build/bin/audiodrop" ]; then
  echo "peers.sh: building audiodrop" >&2
  bash "$root/scripts/build.sh" >&2
fi

# Debian's python: it has requests and boto3, whatever python3 comes first on PATH.
exec /usr/bin/python3 "$here/peers.py" "$@"
