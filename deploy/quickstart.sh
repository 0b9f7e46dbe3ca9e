#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, build, then run Waybill the way
# production does, on this machine:
#   - nats-server with JetStream on loopback, its own store in ./waybill-nats (unless --nats
#     URL or $WAYBILL_NATS_URL names a server to use instead),
#   - `waybill serve` on ./waybill-data (or $WAYBILL_DATA_DIR), with a drop folder ./waybill-inbox,
#   - the bundled sample fed through NATS (waybill.ingest.canonical),
#   - the resulting views of the sample's shipments printed,
#   - the HTTP API on 127.0.0.1:8080 (or the next free port), its URL in DATA_DIR/http.url and
#     the local admin token in DATA_DIR/admin.token.
# Then both keep running until Ctrl-C, which stops them cleanly. `--once` stops them right
# after printing the views (for scripts). Safe to run again: re-sent messages are duplicates.
set -euo pipefail
cd "$(dirname "$0")/.."
ONCE=0
NATS_URL=${WAYBILL_NATS_URL:-}
while [[ $# -gt 0 ]]; do
  case "$1" in
    --once) ONCE=1 ;;
    --nats) NATS_URL=$2; shift ;;
    *) echo "usage: $0 [--once] [--nats URL]" >&2; exit 2 ;;
  esac
  shift
done

bash deploy/install-deps.sh
bash deploy/build.sh
WAYBILL=./build/cli/waybill
DATA_DIR=${WAYBILL_DATA_DIR:-./waybill-data}
INBOX=${WAYBILL_INBOX:-./waybill-inbox}
NATS_PID= SERVE_PID=

stop_all() {
  trap - INT TERM EXIT
  if [[ -n "$SERVE_PID" ]] && kill -0 "$SERVE_PID" 2>/dev/null; then
    kill -TERM "$SERVE_PID"; wait "$SERVE_PID" || true
  fi
  if [[ -n "$NATS_PID" ]] && kill -0 "$NATS_PID" 2>/dev/null; then
    kill -TERM "$NATS_PID"; wait "$NATS_PID" || true
  fi
}
trap stop_all INT TERM EXIT

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

if [[ -z "$NATS_URL" ]]; then
  PORT=4222
  while port_in_use "$PORT"; do PORT=$((PORT + 1)); done
  mkdir -p ./waybill-nats
  echo "== nats-server with JetStream on 127.0.0.1:$PORT (store ./waybill-nats)"
  nats-server -js -a 127.0.0.1 -p "$PORT" -sd ./waybill-nats >./waybill-nats/nats-server.log 2>&1 &
  NATS_PID=$!
  NATS_URL="nats://127.0.0.1:$PORT"
  for _ in $(seq 100); do port_in_use "$PORT" && break; sleep 0.1; done
  port_in_use "$PORT" || { echo "nats-server did not start; see ./waybill-nats/nats-server.log" >&2; exit 1; }
fi

HTTP_PORT=${WAYBILL_HTTP_PORT:-8080}
while port_in_use "$HTTP_PORT"; do HTTP_PORT=$((HTTP_PORT + 1)); done
echo "== waybill serve --data-dir $DATA_DIR --nats $NATS_URL --inbox $INBOX --http 127.0.0.1:$HTTP_PORT"
mkdir -p "$INBOX" "$DATA_DIR"
rm -f "$DATA_DIR/http.url"
"$WAYBILL" serve --config deploy/waybill.conf --data-dir "$DATA_DIR" --nats "$NATS_URL" \
  --inbox "$INBOX" --http "127.0.0.1:$HTTP_PORT" &
SERVE_PID=$!
for _ in $(seq 100); do [[ -s "$DATA_DIR/http.url" ]] && break; sleep 0.1; done
[[ -s "$DATA_DIR/http.url" ]] || { echo "waybill serve did not start" >&2; exit 1; }
HTTP_URL=$(cat "$DATA_DIR/http.url")

echo "== feeding deploy/sample/shipments.ndjson through NATS (waybill.ingest.canonical)"
"$WAYBILL" send --nats "$NATS_URL" --format canonical deploy/sample/shipments.ndjson

# Wait until the sample is in the ledger and folded into the views.
for _ in $(seq 100); do
  STATS=$("$WAYBILL" stats --data-dir "$DATA_DIR")
  if [[ "$STATS" != *'"head_seq":0,'* && "$STATS" == *'"lag_events":0,'* ]]; then break; fi
  sleep 0.1
done
for shipment in SHP-1001 SHP-2002 SHP-3003; do
  echo "== views of $shipment"
  "$WAYBILL" view --data-dir "$DATA_DIR" "$shipment"
done
echo "== stats"
"$WAYBILL" stats --data-dir "$DATA_DIR"

if [[ "$ONCE" == 1 ]]; then exit 0; fi
echo "== running; HTTP API on $HTTP_URL (bearer token: $DATA_DIR/admin.token; docs/http-api.md)"
echo "   views are published on $NATS_URL (waybill.views.>); drop files into $INBOX/<format>/; Ctrl-C stops"
wait "$SERVE_PID"
