-- Extend the leases of live holders.
-- KEYS[1] holders zset; KEYS[2] epoch hash (see acquire.lua)
-- ARGV[1] lease (ms), ARGV[2] a fresh random id (used if the epoch must be created),
-- ARGV[3..] pairs: member, epoch id it was granted or last renewed in
-- Returns {members whose lease had run out (lost: their slot may be someone else's),
-- the epoch id}.
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local id = redis.call('HGET', KEYS[2], 'id')
if not id then
  -- Redis lost its data while these permits were held: quarantine (see acquire.lua).
  id = ARGV[2]
  redis.call('HSET', KEYS[2], 'id', id, 'until', now + lease)
end
local lost = {}
local kept = 0
for i = 3, #ARGV, 2 do
  local member, epoch = ARGV[i], ARGV[i + 1]
  local score = redis.call('ZSCORE', KEYS[1], member)
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, member)
    kept = kept + 1
  elseif not score and epoch ~= id then
    -- Not run out: Redis lost it with the rest of its data. The call is still in flight,
    -- so it counts again.
    redis.call('ZADD', KEYS[1], now + lease, member)
    kept = kept + 1
  else
    redis.call('ZREM', KEYS[1], member)
    lost[#lost + 1] = member
  end
end
if kept > 0 and redis.call('PTTL', KEYS[1]) < lease then
  -- Only ever extend the key's life: instances may use different leases.
  redis.call('PEXPIRE', KEYS[1], lease)
end
return {lost, id}
