-- enqueue: record one source object as queued and add its job to the stream, in one step, so
-- a job exists exactly when the record went to queued. After the prelude and argcheck.
-- KEYS: bucket pending failed counters stream
-- ARGV: key size mtime etag(packed) crc(8 bytes|'') seq origin force now op now_ms etag_text
--       crc_text origin_name
-- Returns 1 queued, 0 unchanged, -1 stale (older than the record).
if #ARGV[12] > ETAG_MAX then return bad('etag') end
local k = ARGV[1]
local size, m = tonumber(ARGV[2]), tonumber(ARGV[3])
local e, crc, q = ARGV[4], ARGV[5], ARGV[6]
local force = ARGV[8] == '1'
local del = ARGV[10] == 'delete'
local r = load(KEYS[1], k)
local os, osz = nil, 0
local changed = true
if r then
  os = r[F_STATE]; osz = r[F_SIZE] or 0
  if m == 0 then
    -- an unknown version: a look is worth it unless a job is on its way
    changed = false
    if not force and (os == S_QUEUED or os == S_COPYING) then return 0 end
  else
    local c = vcmp(m, e, q, r)
    if c < 0 then return -1 end
    if c == 0 then
      changed = false
      -- the same version: nothing to do, except a delete over a record it has not reached
      if not force and
         not (del and os ~= S_QUEUED and os ~= S_COPYING and os ~= S_DELETED) then
        return 0
      end
    end
  end
  cadd('uv', -uvc(os, r[F_CHECKS]))
else
  r = {}
end
if changed or r[F_MTIME] == nil then
  r[F_SIZE] = size; r[F_MTIME] = m; r[F_ETAG] = opt(e); r[F_CRC64] = opt(crc)
  r[F_SEQ] = opt(q); r[F_DST_ETAG] = nil; r[F_UPLOAD_ID] = nil
end
r[F_STATE] = S_QUEUED; r[F_ATTEMPTS] = 0; r[F_ORIGIN] = tonumber(ARGV[7])
r[F_QUEUED_AT] = tonumber(ARGV[9])
r[F_STARTED_AFTER] = nil; r[F_FINISHED_AFTER] = nil; r[F_DURATION_MS] = nil
r[F_ERROR] = nil; r[F_WORKER] = nil
save(KEYS[1], k, r)
account(KEYS[2], KEYS[3], k, os, osz, S_QUEUED, r[F_SIZE] or 0)
flush(KEYS[4])
redis.call('XADD', KEYS[5], '*', 'k', k, 's', ARGV[2], 'm', ARGV[3], 'e', ARGV[12],
  'c', ARGV[13], 'q', q, 'o', ARGV[14], 'op', ARGV[10], 't', ARGV[11])
-- queue bytes, "qbytes:event|bulk" (queue.c's LUA_QDEL takes them off at the ack)
redis.call('HINCRBY', KEYS[4], 'qbytes:' .. string.match(KEYS[5], '[^:]+$'), size)
return 1
