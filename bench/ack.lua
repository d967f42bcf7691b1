-- Replays pre-built, signed webhook requests in order (bench/bodies.py writes them), one file per wrk
-- thread, and prints a JSON summary. Every request carries its own body, HMAC and X-Shopify-Webhook-Id.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  file = assert(io.open(args[1] .. "." .. id, "rb"))
  wraps = 0
end

function request()
  local line = file:read("*l")
  if line == nil then
    -- Past the last prepared request: start again (a duplicate delivery) and report it.
    wraps = wraps + 1
    file:seek("set", 0)
    line = file:read("*l")
  end
  return file:read(tonumber(line))
end

function done(summary, latency, requests)
  local wrapped = 0
  for _, thread in ipairs(threads) do
    wrapped = wrapped + thread:get("wraps")
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"wrapped":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    wrapped))
end
