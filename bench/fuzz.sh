#!/usr/bin/env bash
# Builds the libFuzzer targets (tests/fuzz/) with clang into build-fuzz/ and runs each for
# --seconds (default 600). The corpus grows in build-fuzz/corpus/; a crash leaves its input
# in build-fuzz/crashes/ and fails the run. scripts/test.sh runs a short smoke of this.
#   bash bench/fuzz.sh [--seconds 600]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
if [ "${1:-}" = --seconds ]; then seconds="$2"; fi
dir=build-fuzz
targets=(upload_id_fuzz)
CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DAUDIODROP_FUZZ=ON -DAUDIODROP_WERROR=OFF >/dev/null
cmake --build "$dir" -j "${JOBS:-2}" --target "${targets[@]}" >/dev/null
mkdir -p "$dir/crashes"
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  echo "fuzzing $t for ${seconds}s"
  "$dir/bin/$t" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$dir/crashes/$t-" "$dir/corpus/$t" "tests/fuzz/seeds/$t" 2>&1 | tail -4
done
