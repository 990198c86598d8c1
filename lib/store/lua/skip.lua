-- skip: record one source object as skipped, without a job (an archive-class object the
-- scan will not copy). After the prelude and argcheck.
-- KEYS: bucket pending failed counters
-- ARGV: key size mtime etag(packed) crc(8 bytes|'') seq origin now reason
-- Returns 1 recorded, 0 already skipped at this version, -1 stale, -2 queued/copying.
local err = argcheck(ARGV, 0)
if err then return err end
local k = ARGV[1]
local size, m = tonumber(ARGV[2]), tonumber(ARGV[3])
local e, crc, q = ARGV[4], ARGV[5], ARGV[6]
local why = opt(ARGV[9])
local r = load(KEYS[1], k)
local os, osz = nil, 0
local changed = true
if r then
  os = r[F_STATE]; osz = r[F_SIZE] or 0
  if m == 0 then return 0 end
  local c = vcmp(m, e, q, r)
  if c < 0 then return -1 end
  if c == 0 then
    changed = false
    if os == S_QUEUED or os == S_COPYING then return -2 end
    if os == S_SKIPPED then
      -- the reason may have changed: refresh it, counters untouched
      if r[F_ERROR] ~= why then r[F_ERROR] = why; save(KEYS[1], k, r) end
      return 0
    end
  end
else
  r = {}
end
if changed then
  r[F_SIZE] = size; r[F_MTIME] = m; r[F_ETAG] = opt(e); r[F_CRC64] = opt(crc)
  r[F_SEQ] = opt(q); r[F_DST_ETAG] = nil; r[F_UPLOAD_ID] = nil; r[F_ATTEMPTS] = 0
end
cadd('uv', -uvc(os, r[F_CHECKS]))
r[F_STATE] = S_SKIPPED; r[F_ATTEMPTS] = r[F_ATTEMPTS] or 0; r[F_ORIGIN] = tonumber(ARGV[7])
r[F_QUEUED_AT] = nil; r[F_STARTED_AFTER] = nil; r[F_FINISHED_AFTER] = tonumber(ARGV[8])
r[F_DURATION_MS] = nil; r[F_ERROR] = why; r[F_WORKER] = nil
save(KEYS[1], k, r)
account(KEYS[2], KEYS[3], k, os, osz, S_SKIPPED, r[F_SIZE] or 0)
flush(KEYS[4])
return 1
