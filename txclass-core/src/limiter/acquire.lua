-- Take a permit of a partner's counting semaphore, if one is free.
-- KEYS[1] holders: zset member -> lease expiry (ms, Redis TIME)
-- KEYS[2] fencing counter (never expires)
-- ARGV[1] capacity, ARGV[2] lease (ms), ARGV[3] member (unique per attempt)
-- Returns the fencing token (> 0), or 0 when every permit is held.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
-- Leases that ran out belong to holders that died (or lost Redis): free them first.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[1]) then
  return 0
end
local token = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
-- The key may go when its last lease does (only ever extend: instances may differ in lease).
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return token
