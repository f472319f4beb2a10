-- ARGV: room, from, token SHA-256, body ok (1/0), to ('' = the room), message (without
-- seq), rate_per_sec, rate_burst, max_queue, max_queued_bytes.
-- -> {'ok', recipient…} | {code} | {'body'} | {'self'} | {'unknown_to'} | {'rate', secs}
--    | {'queue_full', peer} | {'bytes'}
local room, from, to, tail = ARGV[1], ARGV[2], ARGV[5], ARGV[6]
local rate, burst = tonumber(ARGV[7]), tonumber(ARGV[8])
local max_queue, max_bytes = tonumber(ARGV[9]), tonumber(ARGV[10])
local e = auth(room, from, ARGV[3])
if e then return {e} end
if ARGV[4] ~= '1' then return {'body'} end
local recipients = {}
if to ~= '' then
  if to == from then return {'self'} end
  if redis.call('EXISTS', peer_key(room, to)) == 0 then return {'unknown_to'} end
  recipients = {to}
else
  for _, id in ipairs(redis.call('LRANGE', room_key(room), 0, -1)) do
    if id ~= from then table.insert(recipients, id) end
  end
end
local pk = peer_key(room, from)
local now = now_ms()
local tokens = 0
if rate > 0 then
  local bt = tonumber(redis.call('HGET', pk, 'bt')) or burst
  local bat = tonumber(redis.call('HGET', pk, 'bat')) or now
  tokens = math.min(burst, bt + math.max(0, now - bat) / 1000 * rate)
  if tokens < 1 then
    return {'rate', math.max(1, math.ceil((1 - tokens) / rate))}
  end
end
for _, id in ipairs(recipients) do
  if redis.call('XLEN', queue_key(room, id)) >= max_queue then return {'queue_full', id} end
end
local queued_now = tonumber(redis.call('GET', 'mrtc:queued')) or 0
if queued_now + #recipients * cost(tail) > max_bytes then return {'bytes'} end
if rate > 0 then
  -- Kept as a string: a Lua number returned or stored through HSET keeps its fraction.
  redis.call('HSET', pk, 'bt', tostring(tokens - 1), 'bat', now)
end
local out = {'ok'}
for _, id in ipairs(recipients) do
  push(room, id, tail)
  table.insert(out, id)
end
return out
