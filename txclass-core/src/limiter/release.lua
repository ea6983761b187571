-- Give a permit back.
-- KEYS[1] holders zset; ARGV[1] member
-- Returns 1 if the permit was held, 0 if its lease had already run out.
return redis.call('ZREM', KEYS[1], ARGV[1])
