#!/usr/bin/env bash
# Configures and builds everything (binaries in <dir>/bin/).
#   BUILD_DIR=build (default)   SANITIZE=1 adds AddressSanitizer + UBSan
#   WERROR=0 lets warnings through   JOBS=2
set -euo pipefail
cd "$(dirname "$0")/.."
dir="${BUILD_DIR:-build}"
sanitize=OFF
[ "${SANITIZE:-0}" = 1 ] && sanitize=ON
cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
  -DAUDIODROP_SANITIZE="$sanitize" -DAUDIODROP_WERROR="$([ "${WERROR:-1}" = 1 ] && echo ON || echo OFF)" \
  >/dev/null
cmake --build "$dir" -j "${JOBS:-2}"
