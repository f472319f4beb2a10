-- A waiting poll ended (answered, superseded, or its client left): the expiry clock starts
-- now. ARGV: room, peer, generation, expire_after (ms).
local room, id = ARGV[1], ARGV[2]
local pk = peer_key(room, id)
local gen = redis.call('HGET', pk, 'gen')
if not gen then return 0 end
redis.call('HSET', pk, 'seen', now_ms())
if gen == ARGV[3] then redis.call('HSET', pk, 'until', 0) end
touch_expiry(room, id, tonumber(ARGV[4]))
return 1
