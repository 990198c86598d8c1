-- finish: copying -> the outcome of a copy, compare-and-set, for many keys in one call (as
-- start). Releases the lease. After the prelude.
-- KEYS: pending failed counters, then per key: bucket lease
-- ARGV: per key 13 values: key token state size mtime etag crc seq dst error now duration_ms
--       checks
-- Returns one code per key: 1 recorded, -1 a newer version is queued, -2 another token holds
-- the lease, -3 no record.
-- ARGV[O + j]: the j-th value of the key being done (one closure per run, not per key)
local O = 0
local function A(j) return ARGV[O + j] end
local function finish(B, L, o)
  O = o
  local k = A(1)
  local r = load(B, k)
  if not r then return -3 end
  -- the lease: ours (or lapsed) when the record says it was last started under our token
  -- (ltok); else read the key
  local cur = r[F_LEASE] ~= nil and r[F_LEASE] == ltok(A(2), r[F_WORKER] or '')
  if not cur then
    cur = redis.call('GET', L)
    if cur and cur ~= A(2) then return -2 end
  end
  local os, osz = r[F_STATE], r[F_SIZE] or 0
  local m = tonumber(A(5))
  if m ~= 0 then
    local c = vcmp(m, A(6), A(8), r)
    -- still copying what an event named, and the HEAD found that object (same etag, quotes
    -- and hex case aside, or same sequencer, or the event named none): the event's time is
    -- not the object's Last-Modified, the HEAD is the truth
    if c < 0 and os == S_COPYING and r[F_ORIGIN] == O_EVENT and
       (r[F_ETAG] == nil or esame(r[F_ETAG], A(6)) or (A(8) ~= '' and A(8) == r[F_SEQ])) then
      c = 0
    end
    if c < 0 then
      if cur then redis.call('DEL', L) end
      return -1
    end
    if c > 0 then r[F_DST_ETAG] = nil; r[F_UPLOAD_ID] = nil end
    r[F_SIZE] = tonumber(A(4)); r[F_MTIME] = m; r[F_ETAG] = opt(A(6))
    if A(7) ~= '' then r[F_CRC64] = A(7) end
    if A(8) ~= '' then r[F_SEQ] = A(8) end
  end
  local ns = tonumber(A(3))
  local now = tonumber(A(11))
  local uv0 = uvc(os, r[F_CHECKS])
  r[F_STATE] = ns; r[F_LEASE] = nil
  -- a done outcome without checks (a refused delete going back to done) keeps the checks of
  -- the copy it leaves in place
  if A(13) ~= '' or ns ~= S_DONE then r[F_CHECKS] = opt(A(13)) end
  cadd('uv', uvc(ns, r[F_CHECKS]) - uv0)
  -- '=': the destination etag is the source MD5, quoted (stored as true)
  if A(9) == '=' then r[F_DST_ETAG] = true elseif A(9) ~= '' then r[F_DST_ETAG] = A(9) end
  -- the error: why it failed (or will be retried), or why it was skipped (the source is gone)
  if ns == S_FAILED or ns == S_QUEUED or ns == S_SKIPPED then r[F_ERROR] = opt(A(10))
  else r[F_ERROR] = nil end
  if final(ns) then r[F_UPLOAD_ID] = nil end
  local q = r[F_QUEUED_AT] or now
  local st = q + (r[F_STARTED_AFTER] or 0)
  if ns ~= S_QUEUED then r[F_FINISHED_AFTER] = math.max(0, now - st) end
  if A(12) ~= '' then r[F_DURATION_MS] = tonumber(A(12)) end
  save(B, k, r)
  account(KEYS[1], KEYS[2], k, os, osz, ns, r[F_SIZE] or 0)
  if cur then redis.call('DEL', L) end
  return 1
end
local out = {}
for i = 1, (#KEYS - 3) / 2 do
  out[i] = finish(KEYS[2 + 2 * i], KEYS[3 + 2 * i], (i - 1) * 13)
end
flush(KEYS[3])
return out
