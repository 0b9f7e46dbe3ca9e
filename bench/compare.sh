#!/usr/bin/env bash
# Side-by-side benchmark: the same workload (canonical events of ~300 bytes over a fixed set of
# shipments, with exact re-sends) through Waybill and through the alternatives, on this
# machine, in one run. Prints a table (events/s, p50/p99 append latency, replay rate, disk,
# peak RSS, ratio to `waybill import`) and writes it as JSON and a PNG bar chart into
# bench/results/. Asserts nothing. docs/benchmarks-compare.md explains every system.
#
#   usage: bench/compare.sh                  the comparison
#          bench/compare.sh --soak [MINUTES] the soak (default 30 minutes at 50,000 events/s)
#
# Systems (WAYBILL_COMPARE_SYSTEMS, comma-separated, default all, in this order):
#   import     `waybill import --format canonical` into a fresh data dir
#   http       `waybill serve`, NDJSON bodies POSTed to /v1/ingest/canonical
#   nats       `waybill serve --nats`, one event per message on waybill.ingest.canonical
#   nats_ndjson  the same with WAYBILL_COMPARE_NATS_LINES events per message (NDJSON)
#   jetstream  nats-server -js alone: async publish with Nats-Msg-Id, file storage
#   postgres   a private PostgreSQL cluster: COPY into staging + INSERT ... ON CONFLICT DO NOTHING
#   rocksdb    raw RocksDB (bench/ingest_bench.cc's baseline)
#
# Environment (defaults in brackets):
#   WAYBILL_COMPARE_EVENTS [1000000]  WAYBILL_COMPARE_SHIPMENTS [50000]
#   WAYBILL_COMPARE_DUP_PERCENT [5]   WAYBILL_COMPARE_BATCH [1000] (lines per HTTP body,
#   Postgres transaction and RocksDB batch)  WAYBILL_COMPARE_CONNS [4] (HTTP connections)
#   WAYBILL_COMPARE_PG_CONNS [4]      WAYBILL_COMPARE_NATS_LINES [100]
#   WAYBILL_COMPARE_SOAK_RATE [50000] WAYBILL_COMPARE_MIN_FREE_GB [8] (the soak stops early
#   when the disk gets this full)     WAYBILL_COMPARE_SOAK_EVENTS_PER_SHIPMENT [20] (the soak
#   keeps WAYBILL_COMPARE_SHIPMENTS in flight and retires each after this many events, as the
#   side-by-side run's 1M events over 50k shipments give each 20; 0 reuses the same ids)     WAYBILL_COMPARE_RESULTS [bench/results]
#   WAYBILL_COMPARE_STOP_TIMEOUT [120] seconds a stopping `waybill serve` may drain its
#                                     projection backlog before it is killed
#   WAYBILL_COMPARE_TAG [date-time]   names the result files
#   WAYBILL_COMPARE_KEEP=1            keep the temp dir (logs, data dirs)
#   BUILD_DIR                         build tree with cli/waybill and bench/compare_* [build]
#
# Needs nats-server, PostgreSQL's server binaries (initdb, pg_ctl, postgres, psql), gnuplot
# and python3: `deploy/install-deps.sh --bench` installs them (as root). Running as root,
# PostgreSQL runs as the `postgres` user (initdb refuses root). Nothing is built here: build
# the targets listed in docs/benchmarks-compare.md first.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
BUILD_DIR=${BUILD_DIR:-$root/build}
EVENTS=${WAYBILL_COMPARE_EVENTS:-1000000}
SHIPMENTS=${WAYBILL_COMPARE_SHIPMENTS:-50000}
DUP=${WAYBILL_COMPARE_DUP_PERCENT:-5}
BATCH=${WAYBILL_COMPARE_BATCH:-1000}
CONNS=${WAYBILL_COMPARE_CONNS:-4}
PG_CONNS=${WAYBILL_COMPARE_PG_CONNS:-4}
NATS_LINES=${WAYBILL_COMPARE_NATS_LINES:-100}
SOAK_RATE=${WAYBILL_COMPARE_SOAK_RATE:-50000}
SOAK_PER_SHIPMENT=${WAYBILL_COMPARE_SOAK_EVENTS_PER_SHIPMENT:-20}
MIN_FREE_GB=${WAYBILL_COMPARE_MIN_FREE_GB:-8}
STOP_TIMEOUT=${WAYBILL_COMPARE_STOP_TIMEOUT:-120}
SYSTEMS=${WAYBILL_COMPARE_SYSTEMS:-import,http,nats,nats_ndjson,jetstream,postgres,rocksdb}
RESULTS=${WAYBILL_COMPARE_RESULTS:-$here/results}
TAG=${WAYBILL_COMPARE_TAG:-$(date -u +%Y%m%d-%H%M)}

mode=compare
SOAK_MINUTES=30
if [[ ${1:-} == --soak ]]; then
  mode=soak
  SOAK_MINUTES=${2:-30}
elif [[ $# -gt 0 ]]; then
  echo "usage: $0 [--soak [MINUTES]]" >&2
  exit 2
fi
for n in "$EVENTS" "$SHIPMENTS" "$BATCH" "$CONNS" "$PG_CONNS" "$NATS_LINES" "$SOAK_RATE" \
  "$SOAK_MINUTES" "$STOP_TIMEOUT"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "$0: sizes must be positive integers (got '$n')" >&2; exit 2; }
done
[[ $SOAK_PER_SHIPMENT =~ ^[0-9]+$ ]] ||
  { echo "$0: WAYBILL_COMPARE_SOAK_EVENTS_PER_SHIPMENT must be 0 or more (got '$SOAK_PER_SHIPMENT')" >&2; exit 2; }
[[ $DUP =~ ^[0-9]+$ && $DUP -lt 100 ]] || { echo "$0: WAYBILL_COMPARE_DUP_PERCENT: 0..99" >&2; exit 2; }

waybill=$BUILD_DIR/cli/waybill
B=$BUILD_DIR/bench
for tool in "$waybill" "$B/compare_workload" "$B/compare_exec" "$B/compare_raw_rocksdb" \
  "$B/compare_replay" "$B/compare_nats" "$B/compare_http"; do
  [[ -x $tool ]] || {
    echo "missing $tool: cmake --build $BUILD_DIR -j2 --target waybill compare_workload" \
      "compare_exec compare_raw_rocksdb compare_replay compare_nats compare_http" >&2
    exit 1
  }
done

pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
need_deps() {
  command -v nats-server >/dev/null || [[ -x /usr/sbin/nats-server ]] || return 0
  command -v gnuplot >/dev/null || return 0
  command -v python3 >/dev/null || return 0
  command -v curl >/dev/null || return 0
  [[ $mode == soak || -n $pgbin && -x $pgbin/initdb && -x $pgbin/pg_ctl && -x $pgbin/psql ]] || return 0
  return 1
}
if need_deps; then
  if [[ $(id -u) -eq 0 ]]; then
    echo "installing the benchmark's packages (deploy/install-deps.sh --bench)" >&2
    bash "$root/deploy/install-deps.sh" --bench
    pgbin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1 || true)
  else
    echo "missing packages: run 'sudo deploy/install-deps.sh --bench' first" >&2
    exit 1
  fi
fi
nats_server=$(command -v nats-server || echo /usr/sbin/nats-server)

work=$(mktemp -d "${TMPDIR:-/tmp}/waybill-compare.XXXXXX")
chmod 755 "$work"  # the postgres user must reach its cluster dir inside
pids=()             # servers started here, stopped by PID on exit
pg_data=""
cleanup() {
  local p
  if [[ -n $pg_data && -f $pg_data/postmaster.pid ]]; then pg_stop || true; fi
  for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && kill -TERM "$p" 2>/dev/null || true
  done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  if [[ -n ${WAYBILL_COMPARE_KEEP:-} ]]; then echo "kept $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT
mkdir -p "$RESULTS"

now() { date +%s.%N; }
# printf: bc writes .5 for 0.5, which JSON does not accept.
elapsed() { printf '%.6f\n' "$(echo "$(now) - $1" | bc -l)"; }
hwm_kib() { awk '/^VmHWM/ { print $2 }' "/proc/$1/status"; }
rss_kib() { awk '/^VmRSS/ { print $2 }' "/proc/$1/status"; }
disk_bytes() { du -sb "$1" | cut -f1; }
# The value of an unlabelled sample from /metrics (empty when absent). awk reads to the end:
# an early exit would make curl fail on SIGPIPE, and pipefail would end the script.
metric() { curl -s "$1/metrics" | awk -v m="$2" '$1 == m { v = $2 } END { print v }'; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
json_get() { python3 -c 'import json,sys; print(json.loads(sys.argv[1])[sys.argv[2]])' "$1" "$2"; }

machine_line() {
  echo "machine: $(nproc) cores, $(awk '/MemTotal/ { printf "%.0f GiB", $2 / 1048576 }' /proc/meminfo)," \
    "$(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
}

# ---- servers ----------------------------------------------------------------------------
# start_nats DIR: a private nats-server with JetStream storing in DIR/js; sets nats_url and
# nats_pid. nats-server 2.9 has no `sync_interval`: JetStream writes every message to its
# block files before the PubAck but leaves fsync to the OS (see docs/benchmarks-compare.md).
start_nats() {
  local dir=$1 port
  mkdir -p "$dir/js"
  port=$(free_port)
  printf 'listen: 127.0.0.1:%s\nmax_payload: 8MB\njetstream { store_dir: "%s/js" }\n' "$port" "$dir" >"$dir/nats.conf"
  "$nats_server" -c "$dir/nats.conf" >"$dir/nats.log" 2>&1 &
  nats_pid=$!
  pids+=("$nats_pid")
  nats_url=nats://127.0.0.1:$port
  for _ in $(seq 100); do
    grep -q "Server is ready" "$dir/nats.log" && return 0
    sleep 0.1
  done
  echo "nats-server did not start:" >&2
  cat "$dir/nats.log" >&2
  exit 1
}
# stop_pid PID: SIGTERM and wait up to STOP_TIMEOUT s, then SIGKILL (a `waybill serve` folds
# its whole projection backlog before it exits, which can take minutes). Sets stop_how.
stop_pid() {
  local i
  stop_how=term
  kill -TERM "$1" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 10; i++)); do
    kill -0 "$1" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$1" 2>/dev/null; then
    stop_how="killed after ${STOP_TIMEOUT}s"
    kill -KILL "$1" 2>/dev/null || true
  fi
  wait "$1" 2>/dev/null || true
}

# start_serve DATA_DIR [extra flags...]: sets serve_pid and serve_url.
start_serve() {
  local data=$1
  shift
  "$waybill" serve --data-dir "$data" --http 127.0.0.1:0 --rate-limit 0 --http-threads 2 \
    --log-level warn "$@" >"$data.log" 2>&1 &
  serve_pid=$!
  pids+=("$serve_pid")
  for _ in $(seq 600); do
    [[ -s $data/http.url ]] && break
    kill -0 "$serve_pid" 2>/dev/null || { echo "waybill serve exited:" >&2; cat "$data.log" >&2; exit 1; }
    sleep 0.1
  done
  serve_url=$(tr -d '[:space:]' <"$data/http.url")
  for _ in $(seq 600); do
    [[ $(curl -s -o /dev/null -w '%{http_code}' "$serve_url/readyz") == 200 ]] && return 0
    sleep 0.1
  done
  echo "waybill serve at $serve_url never became ready" >&2
  exit 1
}

# PostgreSQL: a private cluster on a Unix socket in its own dir (no TCP port to collide on).
as_pg() { if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi; }
pg_stop() { as_pg "$pgbin/pg_ctl" -D "$pg_data" -m fast -w stop >/dev/null; }
pg_psql() { as_pg "$pgbin/psql" -X -h "$pg_sock" -p 5432 -U postgres -v ON_ERROR_STOP=1 "$@"; }

# Sums the PSS of every process of the cluster (shared memory counted once) every 0.5 s and
# keeps the peak in FILE, until FILE.stop exists.
pg_pss_sampler() {
  local file=$1 postmaster peak=0 total p
  postmaster=$(head -1 "$pg_data/postmaster.pid")
  while [[ ! -e $file.stop && -d $pg_data ]]; do
    total=0
    for p in $postmaster $(pgrep -P "$postmaster" || true); do
      total=$((total + $(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
    done
    ((total > peak)) && peak=$total && echo "$peak" >"$file"
    sleep 0.5
  done
}

# ---- the comparison ---------------------------------------------------------------------
# Kept beside the other result files as the legs finish, so a failed leg loses only itself.
results=$RESULTS/compare-$TAG.jsonl
record() {  # record NAME LABEL JSON-FIELDS...: one result line
  local name=$1 label=$2
  shift 2
  local IFS=,
  echo "{\"system\":\"$name\",\"label\":\"$label\",$*}" >>"$results"
}

run_import() {
  echo "== import: waybill import --format canonical (fresh data dir)"
  local out r rep
  r=$("$B/compare_exec" "$work/import.out" "$waybill" import --data-dir "$work/import" \
    --format canonical "$workload")
  out=$(cat "$work/import.out")
  [[ $(json_get "$r" exit) == 0 ]] || { echo "waybill import failed: $out" >&2; exit 1; }
  echo "   $r $out"
  rep=$("$B/compare_replay" "$work/import")
  record import "Waybill import" "\"events\":$EVENTS" "\"stored\":$(json_get "$out" accepted)" \
    "\"seconds\":$(json_get "$r" seconds)" '"p50_ms":null' '"p99_ms":null' \
    '"latency_note":"one process, no per-append figure"' \
    "\"replay_events\":$(json_get "$rep" replay_events)" \
    "\"replay_seconds\":$(json_get "$rep" replay_seconds)" \
    "\"disk_bytes\":$(disk_bytes "$work/import")" "\"peak_rss_kib\":$(json_get "$r" peak_rss_kib)" \
    '"rss_note":"the waybill import process"'
  rm -rf "$work/import"
}

# waybill serve legs: after the ingest the server is stopped (SIGTERM drains it) and its
# ledger replayed with compare_replay.
finish_serve_leg() {  # NAME LABEL DATA SECONDS P50 P99 LAT_NOTE EXTRA...
  local name=$1 label=$2 data=$3 seconds=$4 p50=$5 p99=$6 note=$7 stored hwm rep
  shift 7
  stored=$(metric "$serve_url" waybill_ledger_head_seq)
  local commits csum
  commits=$(metric "$serve_url" waybill_ledger_commits_total)
  csum=$(metric "$serve_url" waybill_ledger_commit_seconds_sum)
  hwm=$(hwm_kib "$serve_pid")
  # SIGTERM drains: the server folds its projection backlog before it exits; that time is
  # not in the ingest figure, and is reported beside it.
  local lag t_stop
  lag=$(metric "$serve_url" waybill_projection_lag_events)
  t_stop=$(now)
  stop_pid "$serve_pid"
  t_stop=$(elapsed "$t_stop")
  echo "   projection lag at the end of ingest: ${lag:-?} events; stop: $stop_how after $t_stop s"
  rep=$("$B/compare_replay" "$data")
  record "$name" "$label" "\"events\":$EVENTS" "\"stored\":${stored%.*}" "\"seconds\":$seconds" \
    "\"p50_ms\":$p50" "\"p99_ms\":$p99" "\"latency_note\":\"$note\"" \
    "\"replay_events\":$(json_get "$rep" replay_events)" \
    "\"replay_seconds\":$(json_get "$rep" replay_seconds)" \
    "\"disk_bytes\":$(disk_bytes "$data")" "\"peak_rss_kib\":$hwm" \
    '"rss_note":"waybill serve (VmHWM)"' "\"group_commits\":${commits%.*}" \
    "\"commit_seconds_sum\":$csum" "\"projection_lag_at_end\":${lag:-null}" \
    "\"stop_seconds\":$t_stop" "\"stop\":\"$stop_how\"" "$@"
  rm -rf "$data"
}

run_http() {
  echo "== http: waybill serve, POST /v1/ingest/canonical, $BATCH lines per body, $CONNS connections"
  local data=$work/http r
  start_serve "$data"
  r=$("$B/compare_http" post "$serve_url" "$data/admin.token" "$workload" --batch "$BATCH" --conns "$CONNS")
  echo "   $r"
  [[ $(json_get "$r" non200) == 0 ]] || { echo "HTTP posts failed" >&2; exit 1; }
  finish_serve_leg http "Waybill HTTP" "$data" "$(json_get "$r" seconds)" "$(json_get "$r" p50_ms)" \
    "$(json_get "$r" p99_ms)" "per request of $BATCH events" "\"requests\":$(json_get "$r" requests)"
}

run_nats() {  # run_nats NAME LINES
  local name=$1 lines=$2 data=$work/$1 ndir=$work/$1-nats r t0 seconds head="" unique label
  label="Waybill NATS"
  ((lines > 1)) && label="Waybill NATS x$lines"
  echo "== $name: waybill serve --nats, $lines event(s) per message on waybill.ingest.canonical"
  start_nats "$ndir"
  start_serve "$data" --nats "$nats_url"
  unique=$(json_get "$workload_info" unique)
  t0=$(now)
  r=$("$B/compare_nats" publish "$nats_url" waybill.ingest.canonical "$workload" --msg-id no \
    --lines "$lines")
  echo "   published: $r"
  # Done when the ledger holds every unique event (the intake acks NATS only once durable).
  while :; do
    head=$(metric "$serve_url" waybill_ledger_head_seq)
    head=${head:-0}
    [[ ${head%.*} -ge $unique ]] && break
    kill -0 "$serve_pid" 2>/dev/null || { echo "waybill serve died" >&2; exit 1; }
    sleep 0.05
  done
  seconds=$(elapsed "$t0")
  echo "   ledger head $head after $seconds s"
  local nats_hwm
  nats_hwm=$(hwm_kib "$nats_pid")
  finish_serve_leg "$name" "$label" "$data" "$seconds" null null \
    "publish-to-PubAck is JetStream's, not the ledger's: see jetstream_p50_ms" \
    "\"jetstream_p50_ms\":$(json_get "$r" p50_ms)" "\"jetstream_p99_ms\":$(json_get "$r" p99_ms)" \
    "\"publish_seconds\":$(json_get "$r" seconds)" "\"nats_server_peak_rss_kib\":$nats_hwm" \
    "\"nats_store_bytes\":$(disk_bytes "$ndir/js")" "\"events_per_message\":$lines"
  stop_pid "$nats_pid"
  rm -rf "$ndir"
}

run_jetstream() {
  echo "== jetstream: nats-server -js alone, js_PublishMsgAsync with Nats-Msg-Id, file storage"
  local ndir=$work/jetstream r rep hwm
  start_nats "$ndir"
  r=$("$B/compare_nats" publish "$nats_url" bench.events "$workload" --msg-id yes --stream BENCH)
  echo "   $r"
  rep=$("$B/compare_nats" replay "$nats_url" BENCH)
  hwm=$(hwm_kib "$nats_pid")
  stop_pid "$nats_pid"
  record jetstream "JetStream alone" "\"events\":$EVENTS" \
    "\"stored\":$(json_get "$rep" replay_events)" "\"seconds\":$(json_get "$r" seconds)" \
    "\"p50_ms\":$(json_get "$r" p50_ms)" "\"p99_ms\":$(json_get "$r" p99_ms)" \
    '"latency_note":"publish-to-PubAck per message, up to 4096 in flight"' \
    "\"replay_events\":$(json_get "$rep" replay_events)" \
    "\"replay_seconds\":$(json_get "$rep" replay_seconds)" \
    "\"disk_bytes\":$(disk_bytes "$ndir/js")" "\"peak_rss_kib\":$hwm" \
    '"rss_note":"nats-server (VmHWM)"' "\"duplicates_dropped\":$(json_get "$r" duplicates)" \
    '"durability":"nats-server 2.9.10: written before the PubAck, fsync left to the OS (no sync_interval option before 2.10)"'
  rm -rf "$ndir"
}

run_postgres() {
  echo "== postgres: COPY into staging + INSERT ... ON CONFLICT DO NOTHING, $BATCH lines per" \
    "transaction, $PG_CONNS connections, synchronous_commit=on, fsync=on"
  local dir=$work/pg i t0 seconds stored rep_t0 rep_seconds replayed peak version
  if grep -q '[\\	]' "$workload"; then
    echo "the workload has a backslash or tab: COPY's text format would alter it" >&2
    exit 1
  fi
  mkdir -p "$dir"
  [[ $(id -u) -eq 0 ]] && chown postgres "$dir"
  pg_data=$dir/data
  pg_sock=$dir
  as_pg "$pgbin/initdb" -D "$pg_data" -A trust -U postgres -E UTF8 --no-instructions >"$dir/initdb.log" 2>&1 ||
    { cat "$dir/initdb.log" >&2; exit 1; }
  as_pg "$pgbin/pg_ctl" -D "$pg_data" -l "$dir/server.log" -w -o "-c listen_addresses='' \
    -c unix_socket_directories=$dir -c port=5432 -c fsync=on -c synchronous_commit=on \
    -c full_page_writes=on" start >/dev/null
  version=$(pg_psql -Atc "SHOW server_version" | cut -d" " -f1)
  pg_psql -q -c "CREATE TABLE events (seq bigserial PRIMARY KEY, event_id text NOT NULL UNIQUE,
    body jsonb NOT NULL)"
  # One script per connection; batch k goes to connection k % PG_CONNS. Each batch is one
  # transaction: COPY into the session's temp staging table, then the insert that skips ids
  # already stored (or repeated within the batch). The insert goes in event-id order: two
  # transactions inserting the same ids in different orders deadlock on the unique index.
  awk -v B="$BATCH" -v P="$PG_CONNS" -v dir="$dir" '
    function close_batch(f) {
      print "\\.\nINSERT INTO events (event_id, body) SELECT body->>'"'"'event_id'"'"', body FROM staging ORDER BY 1 ON CONFLICT (event_id) DO NOTHING;\nCOMMIT;" > f
    }
    BEGIN {
      for (i = 0; i < P; i++) {
        f = dir "/load-" i ".sql"
        print "CREATE TEMP TABLE staging (body jsonb) ON COMMIT DELETE ROWS;\n\\timing on" > f
      }
    }
    {
      f = dir "/load-" (int((NR - 1) / B) % P) ".sql"
      if ((NR - 1) % B == 0) print "BEGIN;\nCOPY staging (body) FROM STDIN;" > f
      print > f
      if (NR % B == 0) close_batch(f)
    }
    END { if (NR % B != 0) close_batch(f) }' "$workload"
  rm -f "$dir/pss" "$dir/pss.stop"
  pg_pss_sampler "$dir/pss" &
  local sampler=$!
  pids+=("$sampler")
  t0=$(now)
  local loaders=()
  for ((i = 0; i < PG_CONNS; i++)); do
    pg_psql -q -f - <"$dir/load-$i.sql" >"$dir/load-$i.out" 2>&1 &
    loaders+=($!)
  done
  for i in "${loaders[@]}"; do
    wait "$i" || { echo "psql failed:" >&2; cat "$dir"/load-*.out >&2; exit 1; }
  done
  seconds=$(elapsed "$t0")
  touch "$dir/pss.stop"
  wait "$sampler" || true
  peak=$(cat "$dir/pss" 2>/dev/null || echo 0)
  stored=$(pg_psql -Atc "SELECT count(*) FROM events")
  rep_t0=$(now)
  replayed=$(pg_psql -Atc "COPY (SELECT body FROM events ORDER BY seq) TO STDOUT" | wc -l)
  rep_seconds=$(elapsed "$rep_t0")
  # Per-transaction latency: the four statements' times (BEGIN, COPY, INSERT, COMMIT).
  local lat
  lat=$(cat "$dir"/load-*.out | awk '/^Time: / { s += $2; if (++n % 4 == 0) { print s; s = 0 } }' |
    sort -g | awk '{ v[NR] = $1 } END { if (NR) printf "%.3f %.3f", v[int(NR * 0.5) + 1], v[int(NR * 0.99) + 1] }')
  pg_stop
  echo "   $stored stored in $seconds s; replay $replayed rows in $rep_seconds s"
  record postgres "PostgreSQL $version" "\"events\":$EVENTS" "\"stored\":$stored" \
    "\"seconds\":$seconds" "\"p50_ms\":${lat% *}" "\"p99_ms\":${lat#* }" \
    "\"latency_note\":\"per transaction of $BATCH lines (BEGIN+COPY+INSERT+COMMIT as psql timed them)\"" \
    "\"replay_events\":$replayed" "\"replay_seconds\":$rep_seconds" \
    "\"disk_bytes\":$(disk_bytes "$pg_data")" "\"peak_rss_kib\":$peak" \
    '"rss_note":"peak of the summed PSS of all the cluster processes, sampled every 0.5 s"' \
    '"durability":"fsync=on, synchronous_commit=on, full_page_writes=on, wal_sync_method=fdatasync"'
  pg_data=""
  rm -rf "$dir"
}

run_rocksdb() {
  echo "== rocksdb: raw RocksDB baseline (batches of 1,000, MultiGet dedup, sync=true)"
  local r rep dir=$work/rocksdb
  r=$("$B/compare_raw_rocksdb" ingest "$workload" "$dir")
  echo "   $r"
  local disk
  disk=$(disk_bytes "$dir")
  rep=$("$B/compare_raw_rocksdb" replay "$dir")
  record rocksdb "raw RocksDB" "\"events\":$EVENTS" "\"stored\":$(json_get "$r" stored)" \
    "\"seconds\":$(json_get "$r" seconds)" "\"p50_ms\":$(json_get "$r" p50_ms)" \
    "\"p99_ms\":$(json_get "$r" p99_ms)" '"latency_note":"per synced WriteBatch of 1,000 lines"' \
    "\"replay_events\":$(json_get "$rep" replay_events)" \
    "\"replay_seconds\":$(json_get "$rep" replay_seconds)" "\"disk_bytes\":$disk" \
    "\"peak_rss_kib\":$(json_get "$r" peak_rss_kib)" '"rss_note":"the benchmark process"'
  rm -rf "$dir"
}

compare() {
  machine_line
  echo "workload: $EVENTS events, $SHIPMENTS shipments, $DUP% duplicates; systems: $SYSTEMS"
  workload=$work/events.ndjson
  : >"$results"
  workload_info=$("$B/compare_workload" "$workload" "$EVENTS" "$SHIPMENTS" "$DUP")
  echo "   $workload_info"
  local load0 s
  load0=$(cut -d' ' -f1-3 /proc/loadavg)
  IFS=, read -ra chosen <<<"$SYSTEMS"
  for s in "${chosen[@]}"; do
    case $s in
      import) run_import ;;
      http) run_http ;;
      nats) run_nats nats 1 ;;
      nats_ndjson) run_nats nats_ndjson "$NATS_LINES" ;;
      jetstream) run_jetstream ;;
      postgres) run_postgres ;;
      rocksdb) run_rocksdb ;;
      *) echo "unknown system '$s'" >&2; exit 2 ;;
    esac
  done
  python3 "$here/compare/report.py" compare "$results" "$RESULTS/compare-$TAG" \
    --meta "{\"workload\":$workload_info,\"shipments\":$SHIPMENTS,\"dup_percent\":$DUP,\"batch\":$BATCH,\"http_conns\":$CONNS,\"pg_conns\":$PG_CONNS,\"nats_lines\":$NATS_LINES,\"machine\":\"$(machine_line)\",\"load_average_before\":\"$load0\",\"load_average_after\":\"$(cut -d' ' -f1-3 /proc/loadavg)\",\"tag\":\"$TAG\"}"
}

# ---- the soak ---------------------------------------------------------------------------
soak() {
  machine_line
  local seconds=$((SOAK_MINUTES * 60)) data=$work/soak csv producer t0 t rss head lag buckets bounds
  echo "soak: $SOAK_MINUTES min at $SOAK_RATE events/s ($BATCH per body, $CONNS connections," \
    "$DUP% duplicates, $SHIPMENTS shipments in flight, $SOAK_PER_SHIPMENT events each) into" \
    "waybill serve; a sample every 10 s"
  start_serve "$data"
  csv=$work/soak.csv
  local mem_metrics=waybill_projection_cache_bytes,waybill_allocator_free_bytes,waybill_ledger_memtable_bytes,waybill_ledger_table_reader_bytes,waybill_ledger_block_cache_bytes,waybill_shipment_index_size,waybill_allocator_in_use_bytes
  local mem_columns=cache_bytes,alloc_free_bytes,memtable_bytes,table_reader_bytes,block_cache_bytes,index_shipments,alloc_in_use_bytes
  bounds=$(curl -s "$serve_url/metrics" | sed -n 's/^waybill_ledger_commit_seconds_bucket{le="\([^"]*\)"}.*/\1/p' | paste -sd';')
  echo "t_s,rss_kib,head_seq,lag_events,lag_seconds,commits,commit_buckets,disk_free_kib,$mem_columns" >"$csv"
  "$B/compare_http" soak "$serve_url" "$data/admin.token" --rate "$SOAK_RATE" --seconds "$seconds" \
    --batch "$BATCH" --conns "$CONNS" --shipments "$SHIPMENTS" --dup-percent "$DUP" \
    --events-per-shipment "$SOAK_PER_SHIPMENT" \
    >"$work/producer.json" 2>"$work/producer.err" &
  producer=$!
  pids+=("$producer")
  t0=$(now)
  local stopped_early=""
  while kill -0 "$producer" 2>/dev/null; do
    local m free
    m=$(curl -s --max-time 5 "$serve_url/metrics" || true)
    t=$(elapsed "$t0")
    rss=$(rss_kib "$serve_pid")
    head=$(awk '$1 == "waybill_ledger_head_seq" { print $2 }' <<<"$m")
    lag=$(awk '$1 == "waybill_projection_lag_events" { print $2 }' <<<"$m")
    local lags commits
    lags=$(awk '$1 == "waybill_projection_lag_seconds" { print $2 }' <<<"$m")
    commits=$(awk '$1 == "waybill_ledger_commits_total" { print $2 }' <<<"$m")
    buckets=$(sed -n 's/^waybill_ledger_commit_seconds_bucket{le="[^"]*"} \(.*\)/\1/p' <<<"$m" | paste -sd';')
    free=$(df -Pk "$work" | awk 'NR == 2 { print $4 }')
    # Where the memory is: the worker's view cache, the allocator's free pages, RocksDB's
    # memtables, index/filter blocks and block caches (docs/operations.md "Process memory"),
    # the shipments in the HTTP API's list index (stored in RocksDB since 2026-11-29), and
    # what the program has allocated (RSS less that and the free pages: allocator overhead).
    local mem
    mem=$(awk -v want="$mem_metrics" 'BEGIN { n = split(want, w, ","); for (i = 1; i <= n; i++) v[w[i]] = "" }
      ($1 in v) { v[$1] = sprintf("%.0f", $2) }
      END { for (i = 1; i <= n; i++) printf "%s%s", (i > 1 ? "," : ""), v[w[i]] }' <<<"$m")
    printf '%.1f,%s,%s,%s,%s,%s,%s,%s,%s\n' "$t" "$rss" "${head%.*}" "${lag%.*}" "${lags:-}" \
      "${commits%.*}" "$buckets" "$free" "$mem" >>"$csv"
    printf '  t=%5.0fs rss=%d MiB head=%s lag=%s events free=%d GiB\n' "$t" $((rss / 1024)) \
      "${head%.*}" "${lag%.*}" $((free / 1048576))
    if ((free < MIN_FREE_GB * 1048576)); then
      stopped_early="disk free fell below $MIN_FREE_GB GiB at t=${t%.*}s"
      echo "  stopping early: $stopped_early"
      kill -TERM "$producer" 2>/dev/null || true
      break
    fi
    # Sleep to the next 10 s mark.
    sleep "$(echo "10 - ($(elapsed "$t0") % 10)" | bc -l)"
  done
  wait "$producer" || true
  cat "$work/producer.err" >&2 || true
  local prod
  prod=$(cat "$work/producer.json" 2>/dev/null || echo '{}')
  [[ -n $prod ]] || prod='{}'
  echo "producer: $prod"
  local disk hwm
  disk=$(disk_bytes "$data")
  hwm=$(hwm_kib "$serve_pid")
  STOP_TIMEOUT=10 stop_pid "$serve_pid"  # the figures are taken; no need to drain
  python3 "$here/compare/report.py" soak "$csv" "$RESULTS/soak-$TAG" \
    --meta "{\"minutes\":$SOAK_MINUTES,\"target_rate\":$SOAK_RATE,\"shipments_in_flight\":$SHIPMENTS,\"events_per_shipment\":$SOAK_PER_SHIPMENT,\"batch\":$BATCH,\"conns\":$CONNS,\"dup_percent\":$DUP,\"producer\":$prod,\"bucket_bounds\":\"$bounds\",\"disk_bytes\":$disk,\"peak_rss_kib\":$hwm,\"stopped_early\":\"$stopped_early\",\"machine\":\"$(machine_line)\",\"tag\":\"$TAG\"}"
}

if [[ $mode == soak ]]; then soak; else compare; fi
