#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (ASan+UBSan) and runs each for SECONDS (default 60)
# on a copy of its seed corpus in tests/fuzz/corpus/NAME. Fails on any crash or report.
set -euo pipefail
cd "$(dirname "$0")/../.."
SECONDS_EACH=${1:-60}
BUILD_DIR=${BUILD_DIR:-build-fuzz}
cmake -S . -B "$BUILD_DIR" -DCMAKE_CXX_COMPILER=clang++ -DWAYBILL_FUZZ=ON -DWAYBILL_BENCH=OFF \
  -DBUILD_TESTING=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
for corpus in tests/fuzz/corpus/*/; do
  name=$(basename "$corpus")
  cmake --build "$BUILD_DIR" --target "${name}_fuzz" -j"$(nproc)" >/dev/null
  bin=$(find "$BUILD_DIR" -type f -name "${name}_fuzz" -perm -u+x | head -1)
  work=$(mktemp -d)
  cp -r "$corpus". "$work"/
  echo "== ${name}_fuzz for ${SECONDS_EACH}s"
  "$bin" -max_total_time="$SECONDS_EACH" -print_final_stats=1 "$work" 2>&1 | tail -3
  rm -rf "$work"
done
