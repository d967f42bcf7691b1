-- Storefront pixel beacons for `POST /pixel?shop=<shop>`: each request names a new checkout token, spread
-- over the benchmark's shops and fake client addresses, and the answers are counted by status.
-- Arguments: a token prefix (unique per run), the number of shops.
local threads = {}
local counter = 0

function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end

function init(args)
  prefix = args[1]
  shops = tonumber(args[2])
  n = 0
  ok, limited, server_errors, other = 0, 0, 0, 0
end

function request()
  n = n + 1
  local token = string.format("%s%02d%010d", prefix, id, n)
  local shop = string.format("bench-store-%03d.myshopify.com", n % shops)
  local body = string.format(
    '{"checkout_token":"%s","event_id":"%s","click_id":"dj0yJnU9bench%s",' ..
    '"consent":{"marketing":true,"sale_of_data":true}}', token, token, token)
  local headers = {
    ["Content-Type"] = "text/plain",
    ["Origin"] = "https://shop.example",
    ["User-Agent"] = "Mozilla/5.0 (iPhone) BenchAgent",
    -- A documentation-range address per request, as the platform router adds it (TRUSTED_PROXY_HOPS=1).
    ["X-Forwarded-For"] = string.format("203.0.113.%d", n % 250 + 1),
  }
  return wrk.format("POST", "/pixel?shop=" .. shop, headers, body)
end

function response(status, headers, body)
  if status >= 200 and status < 300 then
    ok = ok + 1
  elseif status == 429 then
    limited = limited + 1
  elseif status >= 500 then
    server_errors = server_errors + 1
  else
    other = other + 1
  end
end

function done(summary, latency, requests)
  local counts = {ok = 0, limited = 0, server_errors = 0, other = 0}
  for _, thread in ipairs(threads) do
    for key, _ in pairs(counts) do
      counts[key] = counts[key] + thread:get(key)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK_JSON {"requests":%d,"duration_us":%d,"bytes":%d,"connect_errors":%d,"read_errors":%d,' ..
    '"write_errors":%d,"status_errors":%d,"timeouts":%d,"p50_us":%d,"p90_us":%d,"p99_us":%d,' ..
    '"max_us":%d,"mean_us":%.1f,"wrapped":0,"status_2xx":%d,"status_429":%d,"status_5xx":%d,' ..
    '"status_other":%d}\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean,
    counts.ok, counts.limited, counts.server_errors, counts.other))
end
