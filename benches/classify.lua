-- wrk script: POST a real classification per request (benches/sse_throughput.sh).
-- Each connection asks for its own customer, so jobs do not all hit the same rows.
local counter = 0
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
end
function init(args)
  n = 0
end
function request()
  n = n + 1
  local body = string.format(
    '{"customer_id":"bench-%d-%d","partner_id":"sandbox","from":"2026-01-01","to":"2026-01-31"}', id, n % 50)
  return wrk.format("POST", "/v1/classifications", {["Content-Type"] = "application/json"}, body)
end
