-- Removes up to ARGV[1] peers whose expiry has passed. -> {"room/id", …} removed
local out = {}
local due = redis.call('ZRANGEBYSCORE', 'mrtc:expiry', '-inf', now_ms(), 'LIMIT', 0, tonumber(ARGV[1]))
for _, member in ipairs(due) do
  local room, id = string.match(member, '^([^/]+)/(.+)$')
  if room and redis.call('EXISTS', peer_key(room, id)) == 1 then
    remove(room, id, 'expired')
    table.insert(out, member)
  else
    redis.call('ZREM', 'mrtc:expiry', member)
  end
end
return out
