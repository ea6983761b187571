-- Take a permit of a partner's counting semaphore, if one is free.
-- KEYS[1] holders: zset member -> lease expiry (ms, Redis TIME)
-- KEYS[2] fencing counter (never expires)
-- KEYS[3] epoch: hash id -> this state's random id, until -> end of the quarantine (ms)
-- KEYS[4] adaptive limit: hash limit -> calls admitted (a float, absent = capacity),
--         gen -> generation of the last decrease (see release.lua)
-- ARGV[1] capacity, ARGV[2] lease (ms), ARGV[3] member (unique per attempt),
-- ARGV[4] a fresh random id (used if the epoch must be created),
-- ARGV[5] the epoch id this limiter saw last ('' if none yet)
-- Returns {fencing token (> 0) or 0 when no permit is granted, epoch id, ms to wait,
-- the limit's generation}.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[2])
local e = redis.call('HMGET', KEYS[3], 'id', 'until')
local id, quarantine = e[1], tonumber(e[2] or '0')
if not id then
  -- No epoch: a limiter that saw one before knows Redis lost its data (permits in flight
  -- are no longer counted), so nothing is admitted for one lease, while their holders
  -- register them again. A limiter that never saw one cannot tell a first start.
  id = ARGV[4]
  quarantine = 0
  if ARGV[5] ~= '' then quarantine = now + lease end
  redis.call('HSET', KEYS[3], 'id', id, 'until', quarantine)
elseif ARGV[5] ~= '' and id ~= ARGV[5] and quarantine == 0 then
  -- Lost and recreated by a limiter that could not tell: quarantine from now.
  quarantine = now + lease
  redis.call('HSET', KEYS[3], 'until', quarantine)
end
if quarantine > now then
  return {0, id, quarantine - now, '0'}
end
local a = redis.call('HMGET', KEYS[4], 'limit', 'gen')
local capacity = tonumber(ARGV[1])
local admitted = math.floor((tonumber(a[1]) or capacity) + 1e-9)
if admitted > capacity then admitted = capacity end
if admitted < 1 then admitted = 1 end
local gen = a[2] or '0'
-- Leases that ran out belong to holders that died (or lost Redis): free them first.
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZCARD', KEYS[1]) >= admitted then
  return {0, id, 0, gen}
end
local token = redis.call('INCR', KEYS[2])
redis.call('ZADD', KEYS[1], now + lease, ARGV[3])
-- The key may go when its last lease does (only ever extend: instances may differ in lease).
if redis.call('PTTL', KEYS[1]) < lease then
  redis.call('PEXPIRE', KEYS[1], lease)
end
return {token, id, 0, gen}
