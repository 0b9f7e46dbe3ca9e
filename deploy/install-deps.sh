#!/usr/bin/env bash
# Installs the Debian 12 packages Waybill builds and runs with, only those missing.
# Why each one is needed: docs/dependencies.md. Nothing is downloaded at build time.
#
#   usage: deploy/install-deps.sh [--bench]
#   --bench  also the side-by-side benchmark's packages (bench/compare.sh): PostgreSQL, gnuplot,
#            python3, curl. Opt-in, so the normal build and test command never installs them.
set -euo pipefail

PACKAGES=(
  build-essential cmake pkg-config
  librocksdb-dev          # the ledger's storage engine
  libcereal-dev           # binary serialisation of events
  libsimdjson-dev         # fast JSON parsing on the ingest path
  libssl-dev              # SHA-256 for the hash chain (and TLS later)
  libboost-program-options-dev  # the waybill CLI
  libboost-dev            # Beast/Asio for HTTP
  doctest-dev             # unit and integration tests
  libspdlog-dev           # structured logs
  libhowardhinnant-date-dev tzdata  # IANA time zones (X12 local times)
  clang libclang-rt-14-dev      # libFuzzer targets (tests/fuzz)
  libnats-dev nats-server # NATS.c client and the server it talks to
  libjwt-dev              # JWT bearer tokens for the HTTP API (server/auth)
  libgoogle-perftools-dev # tcmalloc, the executables' allocator (faster than glibc's on ingest)
)

# bench/compare.sh only: the PostgreSQL it compares against (server and psql), gnuplot for
# its charts, python3 (standard library) for its report, curl for the server's metrics.
BENCH_PACKAGES=(postgresql postgresql-client gnuplot-nox python3 curl wrk bc openssl)
case "${1:-}" in
  "") ;;
  --bench) PACKAGES+=("${BENCH_PACKAGES[@]}") ;;
  *) echo "usage: $0 [--bench]" >&2; exit 2 ;;
esac

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
echo "installing: ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q >/dev/null
$SUDO apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
