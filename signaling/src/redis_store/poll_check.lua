-- A waiting poll looks again. ARGV: room, peer, generation.
-- -> {'ok', seq, message, …} (maybe none) | {'gone'} | {'superseded'}
local room, id = ARGV[1], ARGV[2]
local gen = redis.call('HGET', peer_key(room, id), 'gen')
if not gen then return {'gone'} end
if gen ~= ARGV[3] then return {'superseded'} end
local out = {'ok'}
for _, v in ipairs(queued(room, id)) do table.insert(out, v) end
return out
