-- Every argument of an enqueue or skip, checked before the script's first write (Redis does
-- not roll a script back): an error reply, nothing changed. ARGV 1..6: key size mtime
-- etag(packed) crc(8 bytes or '') sequencer. The size and mtime are digit strings short
-- enough that tonumber() is exact (a 1e17 never becomes a float).
local function bad(what)
  return redis.error_reply('ERR ferry: bad ' .. what .. ' for ' .. string.sub(ARGV[1], 1, 64))
end
if #ARGV[1] == 0 or #ARGV[1] > KEY_MAX then return bad('key') end
if not string.match(ARGV[2], '^%d+$') or #ARGV[2] > #tostring(SIZE_MAX) or
   tonumber(ARGV[2]) > SIZE_MAX then return bad('size') end
if not string.match(ARGV[3], '^%d+$') or #ARGV[3] > #tostring(MTIME_MAX) or
   tonumber(ARGV[3]) > MTIME_MAX then return bad('mtime') end
-- packed: a tag byte, then the text (or half as many bytes of hex)
if #ARGV[4] > ETAG_MAX + 1 then return bad('etag') end
if #ARGV[5] ~= 0 and #ARGV[5] ~= 8 then return bad('crc64') end
if #ARGV[6] > SEQ_MAX or string.match(ARGV[6], '[^0-9A-Fa-f]') then return bad('sequencer') end
