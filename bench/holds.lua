-- wrk script: each request places a hold for a new actor with its own Idempotency-Key.
-- Configure with environment variables HC_POOL and HC_KEY.
local counter = 0
local thread_id = 0
local pool = os.getenv("HC_POOL") or "bench"
local key = os.getenv("HC_KEY") or ""
local statuses = {}

function setup(thread)
  thread:set("thread_id", thread_id)
  thread_id = thread_id + 1
end

function init(args)
  math.randomseed(os.time() + thread_id * 7919)
  wrk.headers["Authorization"] = "Bearer " .. key
  wrk.headers["Content-Type"] = "application/json"
end

function request()
  counter = counter + 1
  local actor = string.format("t%d-%d-%d", thread_id, counter, math.random(1, 1e9))
  wrk.headers["Idempotency-Key"] = actor
  local body = '{"quantity":1,"actor":{"id":"' .. actor .. '"}}'
  return wrk.format("POST", "/v1/pools/" .. pool .. "/holds", nil, body)
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
end

function done(summary, latency, requests)
  io.write(string.format("RESULT requests=%d duration_us=%d p50_us=%d p99_us=%d errors=%d\n",
    summary.requests, summary.duration, latency:percentile(50), latency:percentile(99),
    summary.errors.connect + summary.errors.read + summary.errors.write + summary.errors.status + summary.errors.timeout))
end
