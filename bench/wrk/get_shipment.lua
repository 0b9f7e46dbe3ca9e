-- wrk script: GET /v1/shipments/{id} for ids drawn uniformly at random from the data set.
-- Environment: WAYBILL_TOKEN (bearer token with shipments:read), WAYBILL_BENCH_SHIPMENTS
-- (file of shipment ids, one per line; http_bench_data writes it). Driven by http_bench.sh.
--
-- Every request string is built once in init(), so request() costs one random pick: the
-- client must spend as little of the shared CPU as it can. No response() callback either
-- (defining one makes wrk hand every response to Lua); wrk counts non-2xx/3xx itself and
-- done() prints them.

local threads = {}

function setup(thread)
  table.insert(threads, thread)
  thread:set("tid", #threads)
end

local requests = {}
local count = 0

function init(args)
  local token = assert(os.getenv("WAYBILL_TOKEN"), "WAYBILL_TOKEN is not set")
  local path = assert(os.getenv("WAYBILL_BENCH_SHIPMENTS"), "WAYBILL_BENCH_SHIPMENTS is not set")
  local headers = { ["Authorization"] = "Bearer " .. token }
  for id in io.lines(path) do
    if id ~= "" then
      count = count + 1
      requests[count] = wrk.format("GET", "/v1/shipments/" .. id, headers)
    end
  end
  assert(count > 0, "no shipment ids in " .. path)
  math.randomseed(os.time() * 1000 + tid)
end

function request()
  return requests[math.random(count)]
end

-- One machine-readable line for http_bench.sh (latencies in ms).
function done(summary, latency, requests)
  local seconds = summary.duration / 1e6
  local e = summary.errors
  io.write(string.format(
    "WBENCH requests=%d seconds=%.3f rps=%.1f p50_ms=%.3f p90_ms=%.3f p99_ms=%.3f max_ms=%.3f " ..
    "non2xx=%d socket_errors=%d\n",
    summary.requests, seconds, summary.requests / seconds, latency:percentile(50) / 1000,
    latency:percentile(90) / 1000, latency:percentile(99) / 1000, latency.max / 1000, e.status,
    e.connect + e.read + e.write + e.timeout))
end
