#!/usr/bin/env bash
# Installs what is missing, builds, and runs the whole test suite through CTest: once
# on the release build, then the unit tests and the PostgreSQL store suite again under
# AddressSanitizer + UBSan.
# Then every fuzz target for FUZZ_SECONDS (default 30) each (bench/fuzz.sh runs them longer).
# Extra arguments go to ctest (e.g. -L unit, -R upload). SANITIZERS=0 skips the second run,
# FUZZ_SECONDS=0 the fuzzing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
(cd build && ctest --output-on-failure -j "${JOBS:-2}" --timeout 600 "$@")
if [ "${SANITIZERS:-1}" = 1 ]; then
  # Warnings are the release build's job: GCC's sanitizer instrumentation raises false
  # maybe-uninitialized warnings inside Boost.
  BUILD_DIR=build-asan SANITIZE=1 WERROR=0 bash scripts/build.sh
  # The unit tests, and the metadata store suite on a real PostgreSQL (libpq included).
  (cd build-asan && ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure -j "${JOBS:-2}" --timeout 600 -L unit "$@" &&
   ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
     ctest --output-on-failure --timeout 600 -R '^metadata_store_conformance_postgres$' "$@")
fi
if [ "${FUZZ_SECONDS:-30}" != 0 ]; then
  bash bench/fuzz.sh --seconds "${FUZZ_SECONDS:-30}"
fi
