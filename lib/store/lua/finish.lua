-- finish: copying -> the outcome of a copy, compare-and-set, for many keys in one call (as
-- start). Releases the lease. After the prelude.
-- KEYS: pending failed counters, then per key: bucket lease
-- ARGV: per key 13 values: key token state size mtime etag crc seq dst error now duration_ms
--       checks
-- Returns one code per key: 1 recorded, -1 a newer version is queued, -2 another token holds
-- the lease, -3 no record.
local function finish(B, L, o)
  -- this key's 13 values, as locals
  local k, a_tok, a_state, a_size, a_mtime, a_etag, a_crc, a_seq, a_dst, a_err, a_now, a_dur,
    a_checks = unpack(ARGV, o + 1, o + 13)
  local r = load(B, k)
  if not r then return -3 end
  local cur = redis.call('GET', L)
  if cur and cur ~= a_tok then return -2 end
  local os, osz = r[F_STATE], r[F_SIZE] or 0
  local m = tonumber(a_mtime)
  if m ~= 0 then
    local c = vcmp(m, a_etag, a_seq, r)
    -- still copying what an event named, and the HEAD found that object (same etag, quotes
    -- and hex case aside, or same sequencer, or the event named none): the event's time is
    -- not the object's Last-Modified, the HEAD is the truth
    if c < 0 and os == S_COPYING and r[F_ORIGIN] == O_EVENT and
       (r[F_ETAG] == nil or esame(r[F_ETAG], a_etag) or (a_seq ~= '' and a_seq == r[F_SEQ])) then
      c = 0
    end
    if c < 0 then
      if cur then redis.call('DEL', L) end
      return -1
    end
    if c > 0 then r[F_DST_ETAG] = nil; r[F_UPLOAD_ID] = nil end
    r[F_SIZE] = tonumber(a_size); r[F_MTIME] = m; r[F_ETAG] = opt(a_etag)
    if a_crc ~= '' then r[F_CRC64] = a_crc end
    if a_seq ~= '' then r[F_SEQ] = a_seq end
  end
  local ns = tonumber(a_state)
  local now = tonumber(a_now)
  local uv0 = uvc(os, r[F_CHECKS])
  r[F_STATE] = ns
  -- a done outcome without checks (a refused delete going back to done) keeps the checks of
  -- the copy it leaves in place
  if a_checks ~= '' or ns ~= S_DONE then r[F_CHECKS] = opt(a_checks) end
  cadd('uv', uvc(ns, r[F_CHECKS]) - uv0)
  -- '=': the destination etag is the source MD5, quoted (stored as true)
  if a_dst == '=' then r[F_DST_ETAG] = true elseif a_dst ~= '' then r[F_DST_ETAG] = a_dst end
  -- the error: why it failed (or will be retried), or why it was skipped (the source is gone)
  if ns == S_FAILED or ns == S_QUEUED or ns == S_SKIPPED then r[F_ERROR] = opt(a_err)
  else r[F_ERROR] = nil end
  if final(ns) then r[F_UPLOAD_ID] = nil end
  local q = r[F_QUEUED_AT] or now
  local st = q + (r[F_STARTED_AFTER] or 0)
  if ns ~= S_QUEUED then r[F_FINISHED_AFTER] = math.max(0, now - st) end
  if a_dur ~= '' then r[F_DURATION_MS] = tonumber(a_dur) end
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
