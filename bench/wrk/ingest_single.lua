-- wrk script: POST /v1/ingest/canonical with one canonical event per request (a carrier
-- milestone on a random shipment of the data set), for many concurrent connections: the
-- server can reach the rate only by sharing each group commit (one fsync) across requests.
-- Environment: WAYBILL_TOKEN (scope ingest), WAYBILL_BENCH_SHIPMENTS (ids file),
-- WAYBILL_BENCH_TAG (unique per run; event ids are "<tag>-<thread>-<counter>").
-- response() counts non-200 answers and the events the server accepted.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local ids = {}
local nids = 0
local prefix
local counter = 0
local base_time = 1751328000  -- July 2025, after the data set
local stamps = {}

non200 = 0
accepted = 0
duplicates = 0
first_error = ""

function init(args)
  local token = assert(os.getenv("WAYBILL_TOKEN"), "WAYBILL_TOKEN is not set")
  local path = assert(os.getenv("WAYBILL_BENCH_SHIPMENTS"), "WAYBILL_BENCH_SHIPMENTS is not set")
  for id in io.lines(path) do
    if id ~= "" then
      nids = nids + 1
      ids[nids] = id
    end
  end
  assert(nids > 0, "no shipment ids in " .. path)
  prefix = (os.getenv("WAYBILL_BENCH_TAG") or tostring(os.time())) .. "-" .. tid .. "-"
  wrk.method = "POST"
  wrk.path = "/v1/ingest/canonical"
  wrk.headers["Authorization"] = "Bearer " .. token
  wrk.headers["Content-Type"] = "application/json"
  for i = 1, 4096 do
    stamps[i] = os.date("!%Y-%m-%dT%H:%M:%SZ", base_time + i * 631)
  end
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  counter = counter + 1
  local body = table.concat({
    '{"event_id":"', prefix, counter, '","kind":"milestone","occurred_at":"',
    stamps[math.random(4096)], '","source":{"system":"carrier","partner":"ACME"},',
    '"shipment_id":"', ids[math.random(nids)], '","carrier":"ACME","status":"IN_TRANSIT",',
    '"source_code":"X6","location":{"city":"Dallas","region":"TX","country":"US",',
    '"unlocode":"USDAL"}}' })
  return wrk.format(nil, nil, nil, body)
end

function response(status, headers, body)
  if status ~= 200 then
    non200 = non200 + 1
    if first_error == "" then first_error = status .. " " .. string.sub(body, 1, 300) end
  end
  local a = string.match(body, '"accepted":%s*(%d+)')
  local d = string.match(body, '"duplicates":%s*(%d+)')
  if a then accepted = accepted + tonumber(a) end
  if d then duplicates = duplicates + tonumber(d) end
end

-- One machine-readable line for http_bench.sh (latencies in ms); events_s counts events the
-- server accepted.
function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local bad, acc, dup, err = 0, 0, 0, ""
  for _, t in ipairs(threads) do
    bad = bad + t:get("non200")
    acc = acc + t:get("accepted")
    dup = dup + t:get("duplicates")
    if err == "" then err = t:get("first_error") end
  end
  local e = summary.errors
  io.write(string.format(
    "WBENCH requests=%d seconds=%.3f rps=%.1f events_s=%.0f accepted=%d duplicates=%d " ..
    "p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f non200=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, acc / seconds, acc, dup,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000, bad,
    e.connect + e.read + e.write + e.timeout))
  if err ~= "" then io.write("WBENCH first non-200: ", err, "\n") end
end
