-- Settle a delivery: ack it, reschedule it, or move it to the dead letters. One step, so the
-- task is never lost nor doubled; refused (0) if the entry is no longer this delivery's
-- (acked already, or claimed by another consumer since: its delivery count moved on).
-- KEYS[1] ready stream, KEYS[2] delayed zset, KEYS[3] payload hash, KEYS[4] uid counter,
-- KEYS[5] dead stream, KEYS[6] task counts (hash "<job>:<page>" -> tasks queued or unsettled)
-- ARGV[1] group, ARGV[2] entry id, ARGV[3] deliveries the settling consumer saw,
-- ARGV[4] 'ack' | 'retry' | 'dead', ARGV[5] delay ms (retry), ARGV[6] task json (retry,
-- dead), ARGV[7] error (dead), ARGV[8] "<job>:<page>" of the delivered task,
-- ARGV[9] "<job>:<page>" of the rescheduled task (retry)
-- Fails with NOGROUP when the group is gone (Redis lost its data): nothing is pending then.
if redis.replicate_commands then redis.replicate_commands() end
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[2], ARGV[2], 1)
if #p == 0 then
  return 0
end
local base = 0
local entry = redis.call('XRANGE', KEYS[1], ARGV[2], ARGV[2])
if #entry > 0 then
  local f = entry[1][2]
  for i = 1, #f, 2 do
    if f[i] == 'base' then base = tonumber(f[i + 1]) end
  end
end
local deliveries = base + tonumber(p[1][4])
if deliveries ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('XACK', KEYS[1], ARGV[1], ARGV[2])
redis.call('XDEL', KEYS[1], ARGV[2])
if redis.call('HINCRBY', KEYS[6], ARGV[8], -1) <= 0 then
  redis.call('HDEL', KEYS[6], ARGV[8])
end
if ARGV[4] == 'retry' then
  redis.call('HINCRBY', KEYS[6], ARGV[9], 1)
  -- This delivery was settled, so it does not count toward the limit: only the
  -- deliveries before it that no consumer settled (their consumers died) carry over.
  local unsettled = deliveries - 1
  local delay = tonumber(ARGV[5])
  if delay <= 0 then
    redis.call('XADD', KEYS[1], '*', 'task', ARGV[6], 'base', unsettled)
  else
    local t = redis.call('TIME')
    local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
    local uid = redis.call('INCR', KEYS[4])
    redis.call('ZADD', KEYS[2], now + delay, uid)
    redis.call('HSET', KEYS[3], uid, unsettled .. '|' .. ARGV[6])
  end
elseif ARGV[4] == 'dead' then
  redis.call('XADD', KEYS[5], '*', 'task', ARGV[6], 'error', ARGV[7], 'deliveries', deliveries)
end
return 1
