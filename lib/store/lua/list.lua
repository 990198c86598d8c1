-- list: one page of records over a run of buckets, filtered by state and key prefix. After
-- the constants (not the prelude).
-- KEYS: buckets…; ARGV: state (-1 any) prefix skip limit
-- Returns {buckets_done, skip, k, v, k, v…}: resume at bucket buckets_done + 1 after skipping
-- skip matching records in it.

-- The record's state: its first MessagePack value, decoded (any integer encoding); nil for a
-- value that does not decode (the C decoder refuses it too, so it is never listed).
local function state_of(v)
  local ok, _, s = pcall(cmsgpack.unpack_one, v)
  if ok then return s end
  return nil
end
local st, pfx = tonumber(ARGV[1]), ARGV[2]
local skip, limit = tonumber(ARGV[3]), tonumber(ARGV[4])
local out = {0, 0}
local n = 0
for i = 1, #KEYS do
  local h = redis.call('HGETALL', KEYS[i])
  local seen = 0
  for j = 1, #h, 2 do
    local k, v = h[j], h[j + 1]
    if (pfx == '' or string.sub(k, 1, #pfx) == pfx) and (st < 0 or state_of(v) == st) then
      seen = seen + 1
      if seen > skip then
        if n >= limit then out[1] = i - 1; out[2] = seen - 1; return out end
        out[#out + 1] = k; out[#out + 1] = v; n = n + 1
      end
    end
  end
  skip = 0
end
out[1] = #KEYS
return out
