#!/usr/bin/env bash
# Installs the Debian 12 packages audiodrop builds and tests with, when any is missing.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config clang-format clang libclang-rt-14-dev
  libboost1.81-dev libssl-dev libsqlite3-dev nlohmann-json3-dev libspdlog-dev libfmt-dev
  libcli11-dev libargon2-dev libgtest-dev libgmock-dev libcurl4-openssl-dev
  libpq-dev libpugixml-dev libjemalloc-dev libavformat-dev libavcodec-dev libavutil-dev
  curl ffmpeg sqlite3 python3 python3-requests python3-boto3 python3-botocore
  python3-jsonschema python3-yaml awscli
  postgresql ceph-mon ceph-osd radosgw ceph-common chromium prometheus help2man man-db
  openssl
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
# Node.js and npm build the browser client and drive the browser tests. Debian's are
# enough (Node.js 18); a newer Node.js installed another way, with its own npm, is kept.
if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  missing+=(nodejs npm)
fi
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}"
as_root=()
[ "$(id -u)" -eq 0 ] || as_root=(sudo)
export DEBIAN_FRONTEND=noninteractive
"${as_root[@]}" apt-get update -qq
"${as_root[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
