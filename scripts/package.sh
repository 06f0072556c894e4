#!/usr/bin/env bash
# Builds the Debian package audiodrop_<version>_amd64.deb (the version is project()'s in
# CMakeLists.txt) and prints its path:
#   bash scripts/package.sh [OUT_DIR]     OUT_DIR (or $OUT_DIR) defaults to dist/
# It installs what is missing (scripts/install-deps.sh), then builds only what the
# package holds (the two binaries and their man pages) in BUILD_DIR (default build-pkg),
# RelWithDebInfo like scripts/build.sh; CPack strips the binaries it packs.
# SKIP_BUILD=1 packs what BUILD_DIR already holds (the package test does that in the test
# build, so CI compiles nothing twice). JOBS=2 as in build.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-${OUT_DIR:-dist}}"
dir="${BUILD_DIR:-build-pkg}"

if [ "${SKIP_BUILD:-0}" != 1 ]; then
  bash scripts/install-deps.sh
  # The install step would otherwise build everything (tests and benchmarks included).
  cmake -S . -B "$dir" -G Ninja -DCMAKE_BUILD_TYPE="${BUILD_TYPE:-RelWithDebInfo}" \
    -DAUDIODROP_SANITIZE=OFF -DAUDIODROP_FUZZ=OFF -DCMAKE_SKIP_INSTALL_ALL_DEPENDENCY=ON \
    >/dev/null
  cmake --build "$dir" -j "${JOBS:-2}" --target audiodrop-server audiodrop audiodrop_man_pages
elif [ ! -f "$dir/CPackConfig.cmake" ]; then
  echo "package.sh: $dir is not a configured build dir (no CPackConfig.cmake)" >&2
  exit 1
fi
if ! grep -q 'man1' "$dir/packaging/cmake_install.cmake"; then
  echo "package.sh: $dir has no man pages: install help2man (scripts/install-deps.sh) and" \
       "configure it again" >&2
  exit 1
fi

mkdir -p "$out"
out="$(cd "$out" && pwd)"
# CPack leaves its staging tree (_CPack_Packages) beside the package: keep it out of OUT_DIR.
staging="$(mktemp -d "${TMPDIR:-/tmp}/audiodrop-cpack.XXXXXX")"
trap 'rm -rf "$staging"' EXIT
(cd "$dir" && cpack -G DEB -B "$staging" >"$staging/cpack.log" 2>&1) || {
  cat "$staging/cpack.log" >&2
  exit 1
}
shopt -s nullglob
debs=("$staging"/audiodrop_*.deb)
if [ ${#debs[@]} -ne 1 ]; then
  cat "$staging/cpack.log" >&2
  echo "package.sh: expected one audiodrop_*.deb from cpack, got ${#debs[@]}" >&2
  exit 1
fi
mv -f "${debs[0]}" "$out/"
echo "$out/$(basename "${debs[0]}")"
