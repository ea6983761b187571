-- Extend the leases of live holders.
-- KEYS[1] holders zset; ARGV[1] lease (ms); ARGV[2..] members
-- Returns the members whose lease had run out (lost: their slot may be someone else's).
if redis.replicate_commands then redis.replicate_commands() end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local lease = tonumber(ARGV[1])
local lost = {}
for i = 2, #ARGV do
  local score = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if score and tonumber(score) > now then
    redis.call('ZADD', KEYS[1], 'XX', now + lease, ARGV[i])
  else
    redis.call('ZREM', KEYS[1], ARGV[i])
    lost[#lost + 1] = ARGV[i]
  end
end
if #lost < #ARGV - 1 and redis.call('PTTL', KEYS[1]) < lease then
  -- Only ever extend the key's life: instances may use different leases.
  redis.call('PEXPIRE', KEYS[1], lease)
end
return lost
