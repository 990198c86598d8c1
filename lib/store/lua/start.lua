-- start: queued|failed|copying -> copying under the key's copy lease, for many keys in one
-- call (one script run, the counters written once). After the prelude.
-- KEYS: pending failed counters, then per key: bucket lease
-- ARGV: worker lease_ms now, then per key: key token
-- Returns two values per key: the code (1 ours to copy, 0 already final, -2 another token
-- holds the lease, -3 no record) and the packed record ('' with -2 and -3).

-- A lease token is "<host>/<slot>/<pid>/<n>" and a worker is "<host>/<slot>": a lease held
-- under our own worker name by another pid belongs to a dead process (a slot is held by one
-- live process at a time, see worker.c), so it is taken over at once.
local function dead_holder(cur, tok, w)
  if w == '' then return false end
  local p = w .. '/'
  local n = #p
  if cur:sub(1, n) ~= p or tok:sub(1, n) ~= p then return false end
  local a = string.match(cur:sub(n + 1), '^(%d+)/[^/]*$')
  local b = string.match(tok:sub(n + 1), '^(%d+)/[^/]*$')
  return a ~= nil and b ~= nil and a ~= b
end
local out = {}
local now = tonumber(ARGV[3])
for i = 1, (#KEYS - 3) / 2 do
  local B, L, k, tok = KEYS[2 + 2 * i], KEYS[3 + 2 * i], ARGV[2 + 2 * i], ARGV[3 + 2 * i]
  local code, v = -3, ''
  local raw = redis.call('HGET', B, k)
  if raw then
    local r = {cmsgpack.unpack(raw)}
    local s = r[F_STATE]
    if final(s) then code = 0; v = raw
    else
      -- take the lease if it is free, else see who holds it: one command (Redis >= 7.0)
      local cur = redis.call('SET', L, tok, 'NX', 'PX', ARGV[2], 'GET')
      if cur and cur ~= tok and not dead_holder(cur, tok, ARGV[1]) then code = -2
      else
        -- ours already (a resent call) or a dead process's: renewed / taken over
        if cur then redis.call('SET', L, tok, 'PX', ARGV[2]) end
        r[F_STATE] = S_COPYING; r[F_ATTEMPTS] = (r[F_ATTEMPTS] or 0) + 1
        r[F_STARTED_AFTER] = math.max(0, now - (r[F_QUEUED_AT] or now))
        r[F_FINISHED_AFTER] = nil; r[F_DURATION_MS] = nil
        r[F_WORKER] = ARGV[1]
        code = 1; v = save(B, k, r)
        account(KEYS[1], KEYS[2], k, s, r[F_SIZE] or 0, S_COPYING, r[F_SIZE] or 0)
      end
    end
  end
  out[2 * i - 1] = code; out[2 * i] = v
end
flush(KEYS[3])
return out
