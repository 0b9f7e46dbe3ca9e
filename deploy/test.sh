#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test; then build again
# with AddressSanitizer + UndefinedBehaviorSanitizer and run every test under them.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
export TMPDIR=${TMPDIR:-/tmp}

echo "== build (RelWithDebInfo)"
BUILD_DIR=build bash deploy/build.sh
echo "== tests"
(cd build && ctest --output-on-failure -j2 --timeout 900)

echo "== build (ASan+UBSan)"
BUILD_DIR=build-asan BUILD_TYPE=Debug bash deploy/build.sh -DWAYBILL_SANITIZE=ON -DWAYBILL_BENCH=OFF
echo "== tests under ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2 --timeout 1800)
