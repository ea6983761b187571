-- A consumer still works on an entry: reset its idle time, so no other consumer takes it
-- over as orphaned, but only while this consumer holds it.
-- KEYS[1] ready stream; ARGV[1] group, ARGV[2] consumer, ARGV[3] entry id
-- Returns 1 when the consumer still holds the entry, 0 when another took it (or it is settled).
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1, ARGV[2])
if #p == 0 then
  return 0
end
-- JUSTID: the delivery count stays as it is (a heartbeat is not a delivery).
redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
return 1
