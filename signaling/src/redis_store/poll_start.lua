-- The start of a poll. ARGV: room, peer, token SHA-256, after, wait (ms, 0 = answer now),
-- expire_after (ms).
-- -> {'ok', generation, seq, message, …} | {code} | {'after', last seq}
local room, id, after = ARGV[1], ARGV[2], tonumber(ARGV[4])
local wait, expire_after = tonumber(ARGV[5]), tonumber(ARGV[6])
local e = auth(room, id, ARGV[3])
if e then return {e} end
local pk, qk = peer_key(room, id), queue_key(room, id)
local next_seq = tonumber(redis.call('HGET', pk, 'next'))
if after >= next_seq then return {'after', next_seq - 1} end
-- Acknowledge: everything up to `after` leaves the queue.
if after > 0 then
  local acked = 0
  for _, m in ipairs(redis.call('XRANGE', qk, '-', after .. '-0')) do acked = acked + cost(m[2][2]) end
  if acked > 0 then
    redis.call('XTRIM', qk, 'MINID', (after + 1) .. '-0')
    redis.call('HINCRBY', pk, 'qb', -acked)
    redis.call('DECRBY', 'mrtc:queued', acked)
  end
end
-- A newer poll ends the one that waits (wherever it waits).
local gen = redis.call('HINCRBY', pk, 'gen', 1)
wake(room, id)
local now = now_ms()
local out = {'ok', gen}
for _, v in ipairs(queued(room, id)) do table.insert(out, v) end
local untl = 0
if #out == 2 and wait > 0 then untl = now + wait end
redis.call('HSET', pk, 'seen', now, 'until', untl)
touch_expiry(room, id, expire_after)
return out
