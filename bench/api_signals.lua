-- wrk script for bench/api_signals.sh: POST /v1/signals with a unique idempotency key per
-- request (thread id + counter), counting the answers by status in each thread.
local threads = {}
local counter = 0
local id = 0

function setup(thread)
  thread:set("id", #threads + 1)
  table.insert(threads, thread)
end

function init(args)
  id = wrk.thread:get("id")
  wrk.method = "POST"
  wrk.headers["Content-Type"] = "application/json"
  if os.getenv("BALLAST_TOKEN") then
    wrk.headers["Authorization"] = "Bearer " .. os.getenv("BALLAST_TOKEN")
  end
  accepted, duplicate, refused, other = 0, 0, 0, 0
end

function request()
  counter = counter + 1
  local side = (counter % 2 == 0) and "buy" or "sell"
  local body = string.format(
    '{"symbol":"AAPL","side":"%s","qty":"1","strategy":"bench","idempotency_key":"b%d-%d"}',
    side, id, counter)
  return wrk.format(nil, "/v1/signals", nil, body)
end

function response(status, headers, body)
  if status == 202 then accepted = accepted + 1
  elseif status == 200 then duplicate = duplicate + 1
  elseif status == 429 then refused = refused + 1
  else other = other + 1 end
end

function done(summary, latency, requests)
  local a, d, r, o = 0, 0, 0, 0
  for _, t in ipairs(threads) do
    a = a + t:get("accepted")
    d = d + t:get("duplicate")
    r = r + t:get("refused")
    o = o + t:get("other")
  end
  local secs = summary.duration / 1e6
  io.write(string.format("wrk: %d answered 202 in %.2f s = %.0f durable signals/s; 200 duplicate %d, 429 %d, other %d; latency p50 %.2f ms p99 %.2f ms\n",
    a, secs, a / secs, d, r, o, latency:percentile(50) / 1000, latency:percentile(99) / 1000))
  io.write(string.format("WRK_ACCEPTED=%d\n", a))
end
