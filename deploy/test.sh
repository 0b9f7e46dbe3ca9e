#!/usr/bin/env bash
# The whole test suite: install what is missing, build, run every test; then build again
# with AddressSanitizer + UndefinedBehaviorSanitizer and run every test under them; then the
# concurrency tests once more under ThreadSanitizer.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
export TMPDIR=${TMPDIR:-/tmp}

# Line tables only (-g1): stack traces and sanitizer reports still name file and line, and
# the three builds compile about a quarter faster than with full debug info (most of CI).
g1_release=(-DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O2 -g1 -DNDEBUG")
g1_debug=(-DCMAKE_CXX_FLAGS_DEBUG="-g1")

echo "== build (RelWithDebInfo)"
BUILD_DIR=build bash deploy/build.sh "${g1_release[@]}"
echo "== tests"
(cd build && ctest --output-on-failure -j2 --timeout 900)

echo "== build (ASan+UBSan)"
BUILD_DIR=build-asan BUILD_TYPE=Debug bash deploy/build.sh -DWAYBILL_SANITIZE=ON -DWAYBILL_BENCH=OFF \
  "${g1_debug[@]}"
echo "== tests under ASan+UBSan"
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp"
export UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
(cd build-asan && ctest --output-on-failure -j2 --timeout 1800)

echo "== build (ThreadSanitizer: the concurrency tests)"
# Only the tests labelled `concurrency` (in-process threads: writer, workers, HTTP, NATS,
# caches) run under TSan; the end-to-end tests already ran twice and the binary they drive
# would need a third full build.
BUILD_TARGETS=$(cd build && ctest -N -L concurrency | awk '/Test +#/ {print $3}' | xargs) \
  BUILD_DIR=build-tsan BUILD_TYPE=Debug bash deploy/build.sh -DWAYBILL_TSAN=ON -DWAYBILL_BENCH=OFF \
  "${g1_debug[@]}"
echo "== concurrency tests under ThreadSanitizer"
export TSAN_OPTIONS="halt_on_error=1 second_deadlock_stack=1 suppressions=$PWD/tests/tsan.supp"
(cd build-tsan && ctest --output-on-failure -j2 --timeout 1800 -L concurrency)
