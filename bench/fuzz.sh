#!/usr/bin/env bash
# Builds every libFuzzer target (tests/fuzz/*_fuzz.cpp) with clang into build-fuzz/ and runs
# each for --seconds (default 600), one after another, from its seeds
# (tests/fuzz/seeds/<target>/) and its dictionary (tests/fuzz/<target>.dict) when it has one.
# The corpus grows in build-fuzz/corpus/, each run's log is build-fuzz/logs/<target>.log, and
# a crash leaves its input in build-fuzz/crashes/. Ends with a table of executions and
# coverage per target; fails if any target crashed, hung or leaked (after running the others).
# scripts/test.sh runs a short round of this.
#   bash bench/fuzz.sh [--seconds N | N] [target...]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=600
if [ "${1:-}" = --seconds ]; then
  seconds="$2"
  shift 2
elif [[ "${1:-}" =~ ^[0-9]+$ ]]; then
  seconds="$1"
  shift
fi
dir=build-fuzz
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=()
  for source in tests/fuzz/*_fuzz.cpp; do targets+=("$(basename "$source" .cpp)"); done
fi
mkdir -p "$dir/crashes" "$dir/logs"
# Quiet unless it fails; then the build's own output says why.
if ! { CC=clang CXX=clang++ cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
         -DAUDIODROP_FUZZ=ON -DAUDIODROP_WERROR=OFF &&
       cmake --build "$dir" -j "${JOBS:-2}" --target "${targets[@]}"; } >"$dir/logs/build.log" 2>&1; then
  tail -40 "$dir/logs/build.log" >&2
  echo "building the fuzz targets failed: see $dir/logs/build.log" >&2
  exit 1
fi

# The last number after `key` ("cov:", "stat::number_of_executed_units:" ...) in a log, or -.
last_stat() {
  local value
  value=$(grep -oE "$2 +[0-9]+" "$1" | tail -1 | grep -oE "[0-9]+$" || true)
  echo "${value:--}"
}

rows=()
failed=0
for t in "${targets[@]}"; do
  mkdir -p "$dir/corpus/$t"
  log="$dir/logs/$t.log"
  args=(-max_total_time="$seconds" -print_final_stats=1 -timeout=10
        -artifact_prefix="$dir/crashes/$t-")
  if [ -f "tests/fuzz/$t.dict" ]; then args+=(-dict="tests/fuzz/$t.dict"); fi
  echo "fuzzing $t for ${seconds}s"
  status=ok
  if ! "$dir/bin/$t" "${args[@]}" "$dir/corpus/$t" "tests/fuzz/seeds/$t" >"$log" 2>&1; then
    status=FAILED
    failed=1
    grep -E "ERROR|SUMMARY|property violated|runtime error|Test unit written" "$log" | head -8 || true
  fi
  rows+=("$t $(last_stat "$log" stat::number_of_executed_units:) \
$(last_stat "$log" stat::average_exec_per_sec:) $(last_stat "$log" cov:) $(last_stat "$log" ft:) $status")
done

echo
printf '%-22s %12s %9s %7s %7s  %s\n' target executions exec/s cov ft result
for row in "${rows[@]}"; do
  # shellcheck disable=SC2086  # a row is six words
  printf '%-22s %12s %9s %7s %7s  %s\n' $row
done
if [ "$failed" != 0 ]; then
  echo "a fuzz target failed: see $dir/logs/ and $dir/crashes/" >&2
  exit 1
fi
