-- Shared by every script of the Redis store (signaling/src/redis_store/mod.rs). Each script
-- runs atomically in Redis, which is what the in-memory store's per-room lock gives: a send
-- is all-or-nothing, a queue's seqs are gapless, the caps are exact across instances.
--
-- Keys (one Redis, not Redis Cluster: scripts touch keys of several rooms and the counters):
--   mrtc:next_peer            INCR: peer ids, unique for the Redis data's lifetime
--   mrtc:peers, mrtc:rooms    how many exist (max_peers, max_rooms)
--   mrtc:queued               bytes waiting in all queues (max_queued_bytes)
--   mrtc:room:<room>          LIST of the room's peer ids, in join order
--   mrtc:peer:<room>:<id>     HASH tok (SHA-256 of the token, hex), name, next (the seq the
--                             next message gets), gen (poll generation), until (end of the
--                             waiting poll, ms, 0 = none), seen (last poll, ms), qb (bytes
--                             queued for it), bt/bat (send bucket: tokens, when)
--   mrtc:q:<room>:<id>        STREAM of the peer's queue: entry id <seq>-0, field m = the
--                             message without its seq
--   mrtc:expiry               ZSET "<room>/<id>" by when it expires (ms)
-- Wake-ups: PUBLISH mrtc:wake "<room>/<id>" whenever a peer's queue, poll generation or
-- existence changes; every instance is subscribed and wakes its waiting polls of that peer.
-- Time is Redis's (TIME), so the instances' clocks do not matter.

local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end

local function room_key(room) return 'mrtc:room:' .. room end
local function peer_key(room, id) return 'mrtc:peer:' .. room .. ':' .. id end
local function queue_key(room, id) return 'mrtc:q:' .. room .. ':' .. id end

-- What a queued message counts for (limits::cost: its bytes and 64 of overhead).
local function cost(tail) return #tail + 64 end

local function wake(room, id)
  redis.call('PUBLISH', 'mrtc:wake', room .. '/' .. id)
end

-- When the peer expires: expire_after after its last poll, or after the end of the poll
-- that waits (an instance killed mid-poll cannot keep its peer forever).
local function touch_expiry(room, id, expire_after)
  local pk = peer_key(room, id)
  local seen = tonumber(redis.call('HGET', pk, 'seen')) or 0
  local untl = tonumber(redis.call('HGET', pk, 'until')) or 0
  redis.call('ZADD', 'mrtc:expiry', math.max(seen, untl) + expire_after, room .. '/' .. id)
end

-- Queues `tail` for peer `id` (counted, never refused: the caller checked the limits).
local function push(room, id, tail)
  local pk = peer_key(room, id)
  local seq = redis.call('HINCRBY', pk, 'next', 1) - 1
  redis.call('XADD', queue_key(room, id), seq .. '-0', 'm', tail)
  redis.call('HINCRBY', pk, 'qb', cost(tail))
  redis.call('INCRBY', 'mrtc:queued', cost(tail))
  wake(room, id)
end

-- nil when `tok_sha` is peer `id`'s, else the error code.
local function auth(room, id, tok_sha)
  if redis.call('EXISTS', room_key(room)) == 0 then return 'unknown_room' end
  local tok = redis.call('HGET', peer_key(room, id), 'tok')
  if not tok then return 'unknown_peer' end
  if tok ~= tok_sha then return 'wrong_token' end
  return nil
end

-- Removes peer `id`: its queue, its count, and a `leave` to the others; the room goes with
-- its last peer.
local function remove(room, id, reason)
  local pk = peer_key(room, id)
  local qb = tonumber(redis.call('HGET', pk, 'qb')) or 0
  redis.call('DECRBY', 'mrtc:queued', qb)
  redis.call('DEL', pk, queue_key(room, id))
  redis.call('LREM', room_key(room), 0, id)
  redis.call('DECR', 'mrtc:peers')
  redis.call('ZREM', 'mrtc:expiry', room .. '/' .. id)
  wake(room, id)
  local tail = '"from":"' .. id .. '","to":null,"type":"leave","data":{"reason":"' .. reason .. '"}}'
  local rest = redis.call('LRANGE', room_key(room), 0, -1)
  for _, other in ipairs(rest) do push(room, other, tail) end
  if #rest == 0 then
    redis.call('DEL', room_key(room))
    redis.call('DECR', 'mrtc:rooms')
  end
end

-- The peer's queue as a flat list: seq, message, seq, message…
local function queued(room, id)
  local out = {}
  for _, e in ipairs(redis.call('XRANGE', queue_key(room, id), '-', '+')) do
    table.insert(out, string.match(e[1], '^(%d+)'))
    table.insert(out, e[2][2])
  end
  return out
end
