-- enqueue: record source objects as queued and add their jobs to the stream, each in one
-- step, so a job exists exactly when its record went to queued; many keys of one shard per
-- call (every key's arguments checked before the first write; the counters and the queue
-- bytes written once). After the prelude and argcheck.
-- KEYS: pending failed counters stream, then per key: bucket
-- ARGV: now now_ms, then per key 12 values: key size mtime etag(packed) crc(8 bytes|'') seq
--       origin force op etag_text crc_text origin_name
--       force: '0' no, '1' re-queue the same version whatever its state, '2' re-queue it
--       unless queued/copying (the scan; the same version's etag compared as ferry_etag_eq)
-- Returns one code per key: 1 queued, 0 unchanged, -1 stale (older than the record).
local NA = 12
-- ferry_etag_eq on packed etags: esame, and a text etag's letter case aside too.
local function esame_ci(a, b)
  if esame(a, b) then return true end
  if a == '' or b == '' then return false end
  local ta, tb = string.byte(a, 1), string.byte(b, 1)
  if (ta >= 1 and ta <= 4) or (tb >= 1 and tb <= 4) then return false end
  local function bare(x)
    if string.byte(x, 1) == 0 then x = string.sub(x, 2) end
    return string.lower((string.gsub(x, '^"(.*)"$', '%1')))
  end
  return bare(a) == bare(b)
end
local n = #KEYS - 4
for i = 1, n do
  local o = 2 + (i - 1) * NA
  local err = argcheck(ARGV, o)
  if err then return err end
  if #ARGV[o + 10] > ETAG_MAX then return bad(ARGV[o + 1], 'etag') end
end
local NOW = tonumber(ARGV[1])
local function enqueue(B, o)
  -- this key's 12 values, as locals
  local k, a_size, a_mtime, e, crc, q, a_origin, a_force, a_op, a_etag_text, a_crc_text,
    a_origin_name = unpack(ARGV, o + 1, o + 12)
  local size, m = tonumber(a_size), tonumber(a_mtime)
  local force = a_force == '1'
  local idle = a_force == '2'
  local del = a_op == 'delete'
  local r = load(B, k)
  local os, osz = nil, 0
  local changed = true
  if r then
    os = r[F_STATE]; osz = r[F_SIZE] or 0
    if m == 0 then
      -- an unknown version: a look is worth it unless a job is on its way
      changed = false
      if not force and (os == S_QUEUED or os == S_COPYING) then return 0, 0 end
    else
      local c = vcmp(m, e, q, r)
      if c < 0 then return -1, 0 end
      -- the scan's same version also when the etags differ in quotes or case only (a job on
      -- its way is left alone; otherwise it is queued as a newer version, as force '1' would)
      if c > 0 and idle and (os == S_QUEUED or os == S_COPYING) and q == '' and
         m == (r[F_MTIME] or 0) and esame_ci(e, r[F_ETAG] or '') then
        return 0, 0
      end
      if c == 0 then
        changed = false
        if idle then
          -- the scan: the destination differs; a job on its way will copy it
          if os == S_QUEUED or os == S_COPYING then return 0, 0 end
        elseif not force and
           not (del and os ~= S_QUEUED and os ~= S_COPYING and os ~= S_DELETED) then
          -- the same version: nothing to do, except a delete over a record it has not reached
          return 0, 0
        end
      end
    end
    cadd('uv', -uvc(os, r[F_CHECKS]))
  else
    -- a new record: its array part sized for every slot at once (no rehash per slot set)
    r = {nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil, nil}
  end
  if changed or r[F_MTIME] == nil then
    r[F_SIZE] = size; r[F_MTIME] = m; r[F_ETAG] = opt(e); r[F_CRC64] = opt(crc)
    r[F_SEQ] = opt(q); r[F_DST_ETAG] = nil; r[F_UPLOAD_ID] = nil
  end
  r[F_STATE] = S_QUEUED; r[F_ATTEMPTS] = 0; r[F_ORIGIN] = tonumber(a_origin)
  r[F_QUEUED_AT] = NOW
  r[F_STARTED_AFTER] = nil; r[F_FINISHED_AFTER] = nil; r[F_DURATION_MS] = nil
  r[F_ERROR] = nil; r[F_WORKER] = nil
  save(B, k, r)
  account(KEYS[1], KEYS[2], k, os, osz, S_QUEUED, r[F_SIZE] or 0)
  redis.call('XADD', KEYS[4], '*', 'k', k, 's', a_size, 'm', a_mtime, 'e', a_etag_text,
    'c', a_crc_text, 'q', q, 'o', a_origin_name, 'op', a_op, 't', ARGV[2])
  return 1, size
end
local out, qb = {}, 0
for i = 1, n do
  local code, sz = enqueue(KEYS[4 + i], 2 + (i - 1) * NA)
  out[i] = code; qb = qb + sz
end
flush(KEYS[3])
-- queue bytes, "qbytes:event|bulk" (queue.c's LUA_QDEL takes them off at the ack)
if qb > 0 then
  redis.call('HINCRBY', KEYS[3], 'qbytes:' .. string.match(KEYS[4], '[^:]+$'), int(qb))
end
return out
