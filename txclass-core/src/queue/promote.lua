-- Move due delayed tasks to the ready stream.
-- KEYS[1] ready stream, KEYS[2] delayed zset, KEYS[3] payload hash
-- ARGV[1] most tasks to move
-- Returns ms until the next delayed task is due, or -1 if none is waiting.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local due = redis.call('ZRANGEBYSCORE', KEYS[2], '-inf', now, 'LIMIT', 0, tonumber(ARGV[1]))
for _, uid in ipairs(due) do
  local v = redis.call('HGET', KEYS[3], uid)
  redis.call('ZREM', KEYS[2], uid)
  redis.call('HDEL', KEYS[3], uid)
  if v then
    local sep = string.find(v, '|', 1, true)
    redis.call('XADD', KEYS[1], '*', 'task', string.sub(v, sep + 1), 'base', string.sub(v, 1, sep - 1))
  end
end
local nxt = redis.call('ZRANGE', KEYS[2], 0, 0, 'WITHSCORES')
if #nxt == 0 then
  return -1
end
return math.max(0, tonumber(nxt[2]) - now)
