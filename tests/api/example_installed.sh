#!/usr/bin/env bash
# The README's promise for library users: install batchtune, then build
# examples/ (a program with its own model and data) against the installed
# package alone, with find_package(batchtune), and run it.
#   example_installed.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
work=$(mktemp -d "${TMPDIR:-/tmp}/batchtune-example.XXXXXX")
trap 'rm -rf "$work"' EXIT

cmake --install "$build" --prefix "$work/prefix" >"$work/install.log"
for f in bin/batchtune include/batchtune/batchtune.hpp lib/cmake/batchtune/batchtuneConfig.cmake; do
  [[ -e "$work/prefix/$f" ]] || { echo "FAIL: the install has no $f" >&2; exit 1; }
done
# Only the installed tree: the source tree's headers must not be needed.
cp -r "$source/examples" "$work/examples"
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$work/examples" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$work/prefix" "${launcher[@]}" >"$work/configure.log" ||
  { cat "$work/configure.log" >&2; exit 1; }
cmake --build "$work/build" >"$work/build.log" 2>&1 || { tail -40 "$work/build.log" >&2; exit 1; }
"$work/build/tune_my_model" "$work/report.json" | tee "$work/out.txt"
grep -q '^batch size [0-9]' "$work/out.txt"
# The report it wrote is one batchtune reads and checks.
"$work/prefix/bin/batchtune" check "$work/report.json"
echo "example: built against the installed package and tuned itself"
