#!/usr/bin/env bash
# HTTP API benchmark: wrk on loopback against `waybill serve` over a ledger of EVENTS events
# and SHIPMENTS shipments. Prints figures (medians of WAYBILL_BENCH_RUNS runs per phase);
# asserts nothing.
#
#   usage: bench/http_bench.sh [EVENTS=1000000] [SHIPMENTS=50000] [DURATION=20]
#
#   (a) GET /v1/shipments/{id}, random ids, wrk -t1 at -c16, -c32 and -c64
#   (b) POST /v1/ingest/canonical, NDJSON bodies of 1,000 events, wrk -t1 -c4
#   (c) POST /v1/ingest/canonical, one event per request, wrk -t1 -c64
# run in the order a, c, b against one server (the ingest phases grow its ledger).
#
# Environment:
#   BUILD_DIR            build tree with cli/waybill and bench/http_bench_data (default: the
#                        first of build-bench-http, ../build-bench-http, build that has both)
#   WAYBILL_BENCH_DATA   keep the generated data set here and reuse it on later runs (each run
#                        serves a copy: the ingest phases append to the ledger they serve)
#   WAYBILL_BENCH_KEEP   set: keep the temp dir (server log, wrk outputs, served data dir)
#   WAYBILL_BENCH_RUNS   runs per phase (default 3)
#   WAYBILL_BENCH_PHASES which phases to run (default abc; e.g. bc: the ingest phases only)
#   WAYBILL_BENCH_GET_CONNS wrk connection counts of phase (a) (default "16 32 64")
#
# The client and the server share the machine: wrk -t1 takes up to one core, and each run
# reports the CPU the server and wrk used, so a client-bound figure can be told apart.
# Nothing is built here (build first: see docs/benchmarks-http.md).
set -euo pipefail

EVENTS=${1:-1000000}
SHIPMENTS=${2:-50000}
DURATION=${3:-20}
RUNS=${WAYBILL_BENCH_RUNS:-3}
PHASES=${WAYBILL_BENCH_PHASES:-abc}
[[ $PHASES =~ ^[abc]+$ ]] || { echo "WAYBILL_BENCH_PHASES: letters a, b, c" >&2; exit 2; }
for n in "$EVENTS" "$SHIPMENTS" "$DURATION" "$RUNS"; do
  [[ $n =~ ^[1-9][0-9]*$ ]] || { echo "usage: $0 [EVENTS] [SHIPMENTS] [DURATION_SECONDS]" >&2; exit 2; }
done

here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
if [[ -z ${BUILD_DIR:-} ]]; then
  for d in "$root/build-bench-http" "$root/../build-bench-http" "$root/build"; do
    if [[ -x $d/cli/waybill && -x $d/bench/http_bench_data ]]; then BUILD_DIR=$d; break; fi
  done
fi
BUILD_DIR=${BUILD_DIR:-$root/build}
waybill=$BUILD_DIR/cli/waybill
datagen=$BUILD_DIR/bench/http_bench_data
for tool in "$waybill" "$datagen"; do
  [[ -x $tool ]] || { echo "missing $tool: build the targets waybill and http_bench_data first" >&2; exit 1; }
done
for tool in wrk openssl curl bc; do
  command -v "$tool" >/dev/null || { echo "missing $tool (apt-get install -y $tool)" >&2; exit 1; }
done

work=$(mktemp -d "${TMPDIR:-/tmp}/waybill-http-bench.XXXXXX")
server_pid=""
cleanup() {
  if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
    kill -TERM "$server_pid" 2>/dev/null || true
    wait "$server_pid" 2>/dev/null || true
  fi
  if [[ -n ${WAYBILL_BENCH_KEEP:-} ]]; then
    echo "kept $work"
  else
    rm -rf "$work"
  fi
}
trap cleanup EXIT

clk_tck=$(getconf CLK_TCK)
echo "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg);" \
  "$(wrk -v 2>&1 | head -1 | cut -d' ' -f1-2)"
echo "workload: $EVENTS events over $SHIPMENTS shipments; $RUNS runs x ${DURATION}s per phase"

# ---- the data set -----------------------------------------------------------------------
data=$work/data
ids_file=$work/shipments.txt
if [[ -n ${WAYBILL_BENCH_DATA:-} ]]; then
  keep=$WAYBILL_BENCH_DATA
  if [[ -d $keep/ledger ]]; then
    # A kept set of other sizes would silently change every figure.
    if [[ $(cat "$keep/params" 2>/dev/null) != "$EVENTS $SHIPMENTS" ]]; then
      echo "$keep holds a data set of $(cat "$keep/params" 2>/dev/null || echo '?') events/shipments," \
        "not $EVENTS $SHIPMENTS: remove it or point WAYBILL_BENCH_DATA elsewhere" >&2
      exit 2
    fi
    echo "data set: reusing $keep"
  else
    mkdir -p "$keep"
    "$datagen" "$keep/ledger" "$EVENTS" "$SHIPMENTS" "$keep/shipments.txt"
    echo "$EVENTS $SHIPMENTS" >"$keep/params"
  fi
  # Serve a copy: the ingest phases append to the ledger they serve.
  cp -a "$keep/ledger" "$data"
  cp "$keep/shipments.txt" "$ids_file"
else
  "$datagen" "$data" "$EVENTS" "$SHIPMENTS" "$ids_file"
fi

# ---- the server -------------------------------------------------------------------------
# 48 random bytes as hex text: the secret must pass through openssl's -hmac as an argument.
secret_file=$work/jwt.secret
(umask 077 && openssl rand -hex 24 | tr -d '\n' >"$secret_file")
secret=$(cat "$secret_file")

b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
# An HS256 JWT as server/auth/token_mint.h makes them (until `waybill token` exists).
mint_token() {
  local now header payload signature
  now=$(date +%s)
  header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
  payload=$(printf '{"sub":"http-bench","scope":"%s","iat":%d,"exp":%d}' "$1" "$now" \
    $((now + 3600)) | b64url)
  signature=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -hmac "$secret" -binary | b64url)
  printf '%s.%s.%s' "$header" "$payload" "$signature"
}

rm -f "$data/http.url"  # only the URL this server writes counts
"$waybill" serve --data-dir "$data" --http 127.0.0.1:0 --jwt-secret-file "$secret_file" \
  --rate-limit 0 --http-threads 2 --log-level warn >"$work/serve.log" 2>&1 &
server_pid=$!
for _ in $(seq 600); do
  [[ -s $data/http.url ]] && break
  kill -0 "$server_pid" 2>/dev/null || { echo "waybill serve exited:" >&2; cat "$work/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -s $data/http.url ]] || { echo "waybill serve wrote no $data/http.url in 60 s" >&2; exit 1; }
url=$(tr -d '[:space:]' <"$data/http.url")
for _ in $(seq 600); do
  [[ $(curl -s -o /dev/null -w '%{http_code}' "$url/readyz") == 200 ]] && break
  sleep 0.1
done
echo "server: pid $server_pid at $url"

export WAYBILL_TOKEN WAYBILL_BENCH_SHIPMENTS=$ids_file WAYBILL_BENCH_TAG
WAYBILL_TOKEN=$(mint_token "ingest shipments:read costs:read")
first_id=$(head -1 "$ids_file")
code=$(curl -s -o "$work/sample.json" -w '%{http_code}' -H "Authorization: Bearer $WAYBILL_TOKEN" \
  "$url/v1/shipments/$first_id")
if [[ $code != 200 ]]; then
  echo "GET /v1/shipments/$first_id answered $code:" >&2
  cat "$work/sample.json" >&2
  exit 1
fi

# ---- helpers ----------------------------------------------------------------------------
metric() {  # the value of an unlabelled gauge from /metrics (empty when absent)
  curl -s "$url/metrics" | awk -v m="$1" '$1 == m { print $2; exit }'
}
commit_figures() {  # "commits events seconds" of the ledger's group commits so far
  curl -s "$url/metrics" | awk '
    $1 == "waybill_ledger_commits_total" { n = $2 }
    $1 == "waybill_ledger_commit_events_sum" { e = $2 }
    $1 == "waybill_ledger_commit_seconds_sum" { s = $2 }
    END { printf "%d %d %.9f\n", n, e, s }'
}
server_ticks() { awk '{ print $14 + $15 }' "/proc/$server_pid/stat"; }
# Busy ticks of the whole machine: with the server's and wrk's own they show how much CPU
# other processes took during a run (a shared machine skews every figure).
machine_ticks() { awk '/^cpu / { print $2 + $3 + $4 + $7 + $8 + $9 }' /proc/stat; }
peak_rss() {
  awk '/^VmHWM/ { hwm = $2 } /^VmRSS/ { rss = $2 } END { printf "peak RSS %d MiB (now %d MiB)", hwm / 1024, rss / 1024 }' \
    "/proc/$server_pid/status"
}
median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print v[int((NR + 1) / 2)] }'; }
field() { sed -n "s/.*[[:space:]]$1=\([^[:space:]]*\).*/\1/p" <<<"$2"; }

# Waits until the projection worker has folded everything ingested, so one phase's backlog
# does not eat into the next phase's CPU; prints how long that took.
drain() {
  local start lag=""
  start=$(date +%s.%N)
  for _ in $(seq 3000); do
    lag=$(metric waybill_projection_lag_events)
    [[ -z $lag || $lag == 0 ]] && break
    sleep 0.2
  done
  printf '    projections caught up in %.1f s (lag now %s events, head seq %s)\n' \
    "$(echo "$(date +%s.%N) - $start" | bc)" "${lag:-?}" "$(metric waybill_ledger_head_seq)"
}

# run_wrk NAME CONNECTIONS SCRIPT SECONDS: one wrk run; leaves its WBENCH line in $result
# and prints it with the CPU the server and wrk used meanwhile.
run=0
run_wrk() {
  local name=$1 conns=$2 script=$3 seconds=$4 out t0 t1 m0 m1 w0 w1 cpu c0 c1
  run=$((run + 1))
  out=$work/wrk-$run-$name.txt
  WAYBILL_BENCH_TAG="hb$(date +%s)r$run"
  c0=$(commit_figures)
  t0=$(server_ticks)
  m0=$(machine_ticks)
  w0=$(date +%s.%N)
  # bash's `time` gives wrk's own CPU (user + system) without another tool.
  cpu=$( { TIMEFORMAT='%U %S'; time wrk -t1 "-c$conns" "-d${seconds}s" --timeout 30s --latency \
    -s "$here/wrk/$script" "$url" >"$out" 2>&1; } 2>&1)
  w1=$(date +%s.%N)
  t1=$(server_ticks)
  m1=$(machine_ticks)
  c1=$(commit_figures)
  result=$(grep '^WBENCH requests=' "$out" || true)
  if [[ -z $result ]]; then
    echo "wrk failed:" >&2
    cat "$out" >&2
    exit 1
  fi
  grep '^WBENCH first non-200' "$out" | sed 's/^/    /' || true
  local wall server_pct wrk_pct other_pct n0 e0 s0 n1 e1 s1
  wall=$(echo "$w1 - $w0" | bc)
  server_pct=$(echo "($t1 - $t0) * 100 / $clk_tck / $wall" | bc -l)
  wrk_pct=$(echo "(${cpu% *} + ${cpu#* }) * 100 / $wall" | bc -l)
  other_pct=$(echo "($m1 - $m0) * 100 / $clk_tck / $wall - $server_pct - $wrk_pct" | bc -l)
  (($(echo "$other_pct < 0" | bc))) && other_pct=0  # tick rounding on an idle machine
  result="$result server_cpu=$(printf '%.0f' "$server_pct") wrk_cpu=$(printf '%.0f' "$wrk_pct")"
  result="$result other_cpu=$(printf '%.0f' "$other_pct")"
  # Server CPU per request (GET) or per accepted event (ingest): it depends much less than
  # the rates on whatever else runs on the machine.
  local units
  units=$(field accepted "$result")
  units=${units:-$(field requests "$result")}
  if ((units > 0)); then
    result="$result server_us=$(printf '%.1f' "$(echo "($t1 - $t0) * 1000000 / $clk_tck / $units" | bc -l)")"
  fi
  # Group commits during the run: how many, events per commit, mean synced-write time.
  read -r n0 e0 s0 <<<"$c0"
  read -r n1 e1 s1 <<<"$c1"
  if ((n1 > n0)); then
    result="$result commits=$((n1 - n0)) events_per_commit=$(((e1 - e0) / (n1 - n0)))"
    result="$result commit_ms=$(printf '%.2f' "$(echo "($s1 - $s0) * 1000 / ($n1 - $n0)" | bc -l)")"
  fi
  printf '    %-10s -c%-3s %s\n' "$name" "$conns" "${result#WBENCH }"
}

# collect NAME CONNS SCRIPT: RUNS runs of one phase; sets med_<field> to the medians.
collect() {
  local name=$1 conns=$2 script=$3 f lines=() line n
  for _ in $(seq "$RUNS"); do
    run_wrk "$name" "$conns" "$script" "$DURATION"
    lines+=("$result")
    [[ $name == get ]] || drain
  done
  for f in rps events_s p50_ms p99_ms server_cpu wrk_cpu other_cpu server_us events_per_commit \
    commit_ms; do
    printf -v "med_$f" '%s' "$(for line in "${lines[@]}"; do field "$f" "$line"; done | median)"
  done
  bad=0
  for line in "${lines[@]}"; do
    # GET runs report wrk's non-2xx count, ingest runs the non-200 answers their script saw.
    n=$(field non2xx "$line")
    n=${n:-$(field non200 "$line")}
    bad=$((bad + n + $(field socket_errors "$line")))
  done
}

summary=()  # one line per phase, printed at the end in the order a, b, c

cpu_note() {  # the CPU split of the phase's medians; $1: "request" or "event"
  printf 'CPU: server %s%% (%s us per %s), wrk %s%%, other processes %s%%' "$med_server_cpu" \
    "$med_server_us" "$1" "$med_wrk_cpu" "$med_other_cpu"
}
commit_note() {
  [[ -n $med_events_per_commit ]] || return 0
  printf '; %s events per group commit, %s ms per synced write' "$med_events_per_commit" \
    "$med_commit_ms"
}

# ---- (a) GET /v1/shipments/{id} ---------------------------------------------------------
if [[ $PHASES == *a* ]]; then
  echo
  echo "(a) GET /v1/shipments/{id}, wrk -t1, random ids of $SHIPMENTS"
  # Warm-up, not counted: the first reads fault RocksDB's blocks into its caches.
  run_wrk warmup 32 get_shipment.lua $((DURATION < 5 ? DURATION : 5))
  best="" best_rps=0 best_ok="" best_ok_rps=0
  for conns in ${WAYBILL_BENCH_GET_CONNS:-16 32 64}; do
    collect get "$conns" get_shipment.lua
    line=$(printf -- '-c%s: %.0f req/s, p50 %s ms, p99 %s ms, failed %d (%s)' "$conns" \
      "$med_rps" "$med_p50_ms" "$med_p99_ms" "$bad" "$(cpu_note request)")
    echo "  median $line"
    if (($(echo "$med_rps > $best_rps" | bc))); then
      best_rps=$med_rps
      best=$line
    fi
    if (($(echo "$med_p99_ms < 2 && $med_rps > $best_ok_rps" | bc))); then
      best_ok_rps=$med_rps
      best_ok=$line
    fi
  done
  echo "  $(peak_rss)"
  summary[0]="(a) GET shipment, best  $best  [target >= 30,000 req/s with p99 < 2 ms]"
  [[ -z $best_ok || $best_ok == "$best" ]] ||
    summary[0]+=$'\n'"    best with p99 < 2 ms: $best_ok"
fi

# ---- (c) single-event ingest ------------------------------------------------------------
# Before (b): (b) appends some 2M events, (c) far fewer, so each ingest phase starts from a
# ledger as close to the data set as the order allows.
if [[ $PHASES == *c* ]]; then
  echo
  echo "(c) POST /v1/ingest/canonical, one event per request, wrk -t1 -c64"
  collect single 64 ingest_single.lua
  line=$(printf -- '-c64: %.0f events/s, p50 %s ms, p99 %s ms, failed %d (%s%s)' \
    "$med_events_s" "$med_p50_ms" "$med_p99_ms" "$bad" "$(cpu_note event)" "$(commit_note)")
  echo "  median $line"
  echo "  $(peak_rss)"
  summary[2]="(c) ingest single event $line  [target >= 20,000 events/s]"
fi

# ---- (b) NDJSON ingest ------------------------------------------------------------------
if [[ $PHASES == *b* ]]; then
  echo
  echo "(b) POST /v1/ingest/canonical, NDJSON bodies of 1,000 events, wrk -t1 -c4"
  collect ndjson 4 ingest_ndjson.lua
  line=$(printf -- '-c4: %.0f events/s (%.1f req/s), p50 %s ms, p99 %s ms, failed %d (%s%s)' \
    "$med_events_s" "$med_rps" "$med_p50_ms" "$med_p99_ms" "$bad" "$(cpu_note event)" "$(commit_note)")
  echo "  median $line"
  echo "  $(peak_rss)"
  summary[1]="(b) ingest NDJSON x1000 $line  [target >= 150,000 events/s]"
fi

echo
echo "== summary: medians of $RUNS runs x ${DURATION}s; $EVENTS events / $SHIPMENTS shipments;" \
  "wrk and the server share $(nproc) cores =="
printf '%s\n' "${summary[@]}"
echo "server $(peak_rss)"

# A clean stop is part of the contract (SIGTERM drains); report how long it took.
stop_start=$(date +%s.%N)
kill -TERM "$server_pid"
wait "$server_pid" && rc=0 || rc=$?
printf 'server stopped (exit %d) in %.1f s\n' "$rc" "$(echo "$(date +%s.%N) - $stop_start" | bc)"
server_pid=""
