-- ARGV: room, has_name (1/0), name, token SHA-256, max_peers, max_rooms, max_room_peers,
-- expire_after (ms), rate_burst, the join notice's data (JSON).
-- -> {'ok', id, peer, name|nil, …} | {'peers'} | {'rooms'} | {'room_full'}
local room, has_name, name, tok = ARGV[1], ARGV[2], ARGV[3], ARGV[4]
local max_peers, max_rooms = tonumber(ARGV[5]), tonumber(ARGV[6])
local max_room_peers, expire_after = tonumber(ARGV[7]), tonumber(ARGV[8])
local burst, data = tonumber(ARGV[9]), ARGV[10]
local now = now_ms()
local n = redis.call('LLEN', room_key(room))
if (tonumber(redis.call('GET', 'mrtc:peers')) or 0) >= max_peers then return {'peers'} end
if n == 0 and (tonumber(redis.call('GET', 'mrtc:rooms')) or 0) >= max_rooms then
  return {'rooms'}
end
if n >= max_room_peers then return {'room_full'} end
local id = 'p' .. redis.call('INCR', 'mrtc:next_peer')
local tail = '"from":"' .. id .. '","to":null,"type":"join","data":' .. data .. '}'
local out = {'ok', id}
for _, other in ipairs(redis.call('LRANGE', room_key(room), 0, -1)) do
  push(room, other, tail)
  table.insert(out, other)
  table.insert(out, redis.call('HGET', peer_key(room, other), 'name') or '')
  table.insert(out, redis.call('HEXISTS', peer_key(room, other), 'name'))
end
redis.call('RPUSH', room_key(room), id)
if n == 0 then redis.call('INCR', 'mrtc:rooms') end
redis.call('INCR', 'mrtc:peers')
local pk = peer_key(room, id)
redis.call('HSET', pk, 'tok', tok, 'next', 1, 'gen', 0, 'until', 0, 'seen', now, 'qb', 0,
  'bt', burst, 'bat', now)
if has_name == '1' then redis.call('HSET', pk, 'name', name) end
touch_expiry(room, id, expire_after)
return out
