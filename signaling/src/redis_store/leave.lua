-- ARGV: room, peer, token SHA-256, body ok (1/0). -> {'ok'} | {code} | {'body'}
local room, id = ARGV[1], ARGV[2]
local e = auth(room, id, ARGV[3])
if e then return {e} end
if ARGV[4] ~= '1' then return {'body'} end
remove(room, id, 'left')
return {'ok'}
