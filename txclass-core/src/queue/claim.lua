-- Take over one entry whose consumer has not settled it for min-idle ms (it died).
-- KEYS[1] ready stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle (ms)
-- Returns {id, {field, value, ...}, delivery count} or false.
local cursor = '0-0'
repeat
  local r = redis.call('XAUTOCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], cursor, 'COUNT', 1)
  cursor = r[1]
  for _, e in ipairs(r[2]) do
    if type(e) == 'table' and e[2] then
      local p = redis.call('XPENDING', KEYS[1], ARGV[1], e[1], e[1], 1)
      return {e[1], e[2], p[1][4]}
    end
  end
until cursor == '0-0'
return false
