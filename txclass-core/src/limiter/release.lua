-- Give a permit back, with what the call said about the partner's load, and wake waiters.
-- KEYS[1] holders zset; KEYS[2] adaptive limit hash (see acquire.lua)
-- ARGV[1] member, ARGV[2] feedback: '' (none), 'served' or 'overloaded',
-- ARGV[3] the generation the permit was granted in, ARGV[4] capacity,
-- ARGV[5] adaptive on (1/0), ARGV[6] backoff ratio, ARGV[7] probe_after, ARGV[8] floor,
-- ARGV[9] channel to publish on when a slot may have freed, ARGV[10] the message
-- Returns 1 if the permit was held, 0 if its lease had already run out.
--
-- The arithmetic mirrors AdaptivePolicy::next (limiter/adaptive.rs): one decrease per
-- generation, so the burst of 429s a round of calls brings back lowers the limit once.
local removed = redis.call('ZREM', KEYS[1], ARGV[1])
local feedback = ARGV[2]
if feedback ~= '' and ARGV[5] == '1' then
  local capacity = tonumber(ARGV[4])
  local floor = tonumber(ARGV[8])
  local a = redis.call('HMGET', KEYS[2], 'limit', 'gen')
  local limit = tonumber(a[1]) or capacity
  local gen = a[2] or '0'
  if limit > capacity then limit = capacity end
  if limit < floor then limit = floor end
  if feedback == 'served' then
    if limit < capacity then
      limit = math.min(capacity, limit + 1 / (tonumber(ARGV[7]) * limit))
      redis.call('HSET', KEYS[2], 'limit', string.format('%.17g', limit))
    end
  elseif feedback == 'overloaded' and gen == ARGV[3] then
    limit = math.max(floor, limit * tonumber(ARGV[6]))
    redis.call('HSET', KEYS[2], 'limit', string.format('%.17g', limit),
      'gen', tostring(tonumber(gen) + 1))
  end
end
if removed == 1 then
  redis.call('PUBLISH', ARGV[9], ARGV[10])
end
return removed
