-- Add a task: to the ready stream now, or to the delayed set until it is due.
-- KEYS[1] ready stream, KEYS[2] delayed zset (uid -> due ms, Redis TIME),
-- KEYS[3] payload hash (uid -> "<base>|<task json>"), KEYS[4] uid counter,
-- KEYS[5] task counts (hash "<job>:<page>" -> tasks queued or unsettled)
-- ARGV[1] delay (ms), ARGV[2] base (unsettled deliveries before), ARGV[3] task json,
-- ARGV[4] "<job>:<page>" of the task
-- Returns the stream id, or "d<uid>" for a delayed task.
if redis.replicate_commands then redis.replicate_commands() end
redis.call('HINCRBY', KEYS[5], ARGV[4], 1)
local delay = tonumber(ARGV[1])
if delay <= 0 then
  return redis.call('XADD', KEYS[1], '*', 'task', ARGV[3], 'base', ARGV[2])
end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local uid = redis.call('INCR', KEYS[4])
redis.call('ZADD', KEYS[2], now + delay, uid)
redis.call('HSET', KEYS[3], uid, ARGV[2] .. '|' .. ARGV[3])
return 'd' .. uid
