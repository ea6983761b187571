-- Take over one entry whose consumer has not settled it for min-idle ms (it died).
-- KEYS[1] ready stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] min idle (ms)
-- Returns {id, {field, value, ...}, delivery count} or false.
--
-- XPENDING with IDLE finds the oldest such entry in one command, where XAUTOCLAIM with a
-- small COUNT walks the whole pending list a few entries per call. An entry deleted from
-- the stream meanwhile is dropped from the pending list by XCLAIM; the next one is tried.
for _ = 1, 10 do
  local p = redis.call('XPENDING', KEYS[1], ARGV[1], 'IDLE', ARGV[3], '-', '+', 1)
  if #p == 0 then
    return false
  end
  local id = p[1][1]
  local c = redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], ARGV[3], id)
  if #c > 0 and type(c[1]) == 'table' and c[1][2] then
    return {id, c[1][2], p[1][4] + 1}
  end
  redis.call('XACK', KEYS[1], ARGV[1], id)
end
return false
