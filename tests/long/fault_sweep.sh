#!/usr/bin/env bash
# The long form of the issue 6 fault sweeps (docs/fault-testing.md): the same test binaries
# as `ctest -R 'crash_sweep|nats_chaos'`, with more kills and a longer NATS chaos.
#
#   tests/long/fault_sweep.sh [--build DIR] [--iterations N] [--check-every K]
#                             [--chaos-seconds S] [--seed N] [--only crash|chaos]
#
# Defaults: build dir ./build, 300 SIGKILLs with the full checks after every 5th restart
# (and the last), 600 s of NATS chaos. Exit status: 0 when every sweep passed.
set -euo pipefail

build=build
iterations=300
check_every=5
chaos_seconds=600
seed=""
only=""
while [[ $# -gt 0 ]]; do
  case "$1" in
    --build) build="$2"; shift 2 ;;
    --iterations) iterations="$2"; shift 2 ;;
    --check-every) check_every="$2"; shift 2 ;;
    --chaos-seconds) chaos_seconds="$2"; shift 2 ;;
    --seed) seed="$2"; shift 2 ;;
    --only) only="$2"; shift 2 ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "fault_sweep.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done

for t in crash_sweep_test nats_chaos_test; do
  if [[ ! -x "$build/tests/$t" ]]; then
    echo "fault_sweep.sh: $build/tests/$t not built; run: cmake --build $build --target waybill $t" >&2
    exit 2
  fi
done

export WAYBILL_SWEEP_ITERATIONS="$iterations"
export WAYBILL_SWEEP_CHECK_EVERY="$check_every"
export WAYBILL_CHAOS_SECONDS="$chaos_seconds"
if [[ -n "$seed" ]]; then export WAYBILL_SWEEP_SEED="$seed"; fi
export WAYBILL_SOURCE_DIR="${WAYBILL_SOURCE_DIR:-$(cd "$(dirname "$0")/../.." && pwd)}"

status=0
if [[ "$only" != chaos ]]; then
  echo "== crash sweep: $iterations SIGKILLs, full checks every $check_every restart(s)"
  "$build/tests/crash_sweep_test" || status=1
fi
if [[ "$only" != crash ]]; then
  echo "== NATS chaos: $chaos_seconds s"
  "$build/tests/nats_chaos_test" || status=1
fi
exit "$status"
