-- The arguments of one enqueue or skip, checked before the script's first write (Redis does
-- not roll a script back). argcheck(A, o): A[o + 1 .. o + 6] are key size mtime
-- etag(packed) crc(8 bytes or '') sequencer; nil when they are good, else an error reply
-- (nothing changed). The size and mtime are digit strings short enough that tonumber() is
-- exact (a 1e17 never becomes a float).
local function bad(k, what)
  return redis.error_reply('ERR ferry: bad ' .. what .. ' for ' .. string.sub(k, 1, 64))
end
local SIZE_DIGITS = #string.format('%d', SIZE_MAX)
local MTIME_DIGITS = #string.format('%d', MTIME_MAX)
local function argcheck(A, o)
  local k = A[o + 1]
  if #k == 0 or #k > KEY_MAX then return bad(k, 'key') end
  local s, m = A[o + 2], A[o + 3]
  -- fewer digits than the bound's cannot exceed it: no tonumber() then
  if not string.match(s, '^%d+$') or #s > SIZE_DIGITS or
     (#s == SIZE_DIGITS and tonumber(s) > SIZE_MAX) then return bad(k, 'size') end
  if not string.match(m, '^%d+$') or #m > MTIME_DIGITS or
     (#m == MTIME_DIGITS and tonumber(m) > MTIME_MAX) then return bad(k, 'mtime') end
  -- packed: a tag byte, then the text (or half as many bytes of hex)
  if #A[o + 4] > ETAG_MAX + 1 then return bad(k, 'etag') end
  if #A[o + 5] ~= 0 and #A[o + 5] ~= 8 then return bad(k, 'crc64') end
  if #A[o + 6] > SEQ_MAX or string.match(A[o + 6], '[^0-9A-Fa-f]') then
    return bad(k, 'sequencer')
  end
  return nil
end
