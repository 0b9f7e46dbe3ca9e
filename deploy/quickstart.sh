#!/usr/bin/env bash
# The main job on embedded defaults: install what is missing, build, import the bundled
# sample into ./waybill-data, and show a shipment's history and the chain's verification.
# Safe to run again: the second import finds only duplicates.
set -euo pipefail
cd "$(dirname "$0")/.."
bash deploy/install-deps.sh
bash deploy/build.sh
DATA_DIR=${WAYBILL_DATA_DIR:-./waybill-data}
echo "== import (deploy/sample/shipments.ndjson -> $DATA_DIR)"
./build/cli/waybill import --data-dir "$DATA_DIR" --format canonical deploy/sample/shipments.ndjson
echo "== history SHP-1001"
./build/cli/waybill history --data-dir "$DATA_DIR" SHP-1001
echo "== verify"
./build/cli/waybill verify --data-dir "$DATA_DIR"
echo "== stats"
./build/cli/waybill stats --data-dir "$DATA_DIR"
