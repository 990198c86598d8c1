-- ferry ledger: the helpers of every script that changes records. Before this text each
-- script gets the constants generated from lib/include/ferry/ledger.h and limits.h:
-- S_QUEUED … (states), O_SCAN … (origins), F_STATE … F_CHECKS (record slots), N_SLOTS, and
-- the bounds KEY_MAX, ETAG_MAX, SEQ_MAX, UPLOAD_ID_MAX, SIZE_MAX, MTIME_MAX.

-- The record of key k in bucket hash B, as a table indexed by slot; nil when there is none.
local function load(B, k)
  local v = redis.call('HGET', B, k)
  if not v then return nil end
  return {cmsgpack.unpack(v)}
end

-- Write record r of key k, trailing nils dropped (ferry_record_encode does the same).
local function save(B, k, r)
  local n = N_SLOTS
  while n > 0 and r[n] == nil do n = n - 1 end
  local v = cmsgpack.pack(unpack(r, 1, n))
  redis.call('HSET', B, k, v)
  return v
end

-- States whose keys are in the pending index (a prefix is complete when none is left).
local function pend(s) return s == S_QUEUED or s == S_COPYING or s == S_FAILED end

-- States a copy ends in; a job that meets one is acked without copying.
local function final(s) return s == S_DONE or s == S_SKIPPED or s == S_DELETED end

-- A Lua number as the decimal integer Redis reads ('%d': concatenating or passing a number
-- formats it as a float with sprintf, the costliest step of a small script).
local function int(v) return string.format('%d', v) end

-- Counter changes, summed over the script and written once (flush): objects (DN) and bytes
-- (DB) by state number (their fields 'n<state>', 'b<state>' are named at the flush only), and
-- other fields (CD).
local CD, DN, DB = {}, {}, {}
local function cadd(f, v) CD[f] = (CD[f] or 0) + v end
local function flush(C)
  for s, v in pairs(DN) do if v ~= 0 then redis.call('HINCRBY', C, 'n' .. s, int(v)) end end
  for s, v in pairs(DB) do if v ~= 0 then redis.call('HINCRBY', C, 'b' .. s, int(v)) end end
  for f, v in pairs(CD) do if v ~= 0 then redis.call('HINCRBY', C, f, int(v)) end end
  CD, DN, DB = {}, {}, {}
end

-- Key k moves from state os (nil: new record) of size osz to state ns of size nsz: the
-- counters n<state>/b<state> and the pending (P) and failed (F) indexes follow (pend()
-- written out: this runs for every key of every script).
local function account(P, F, k, os, osz, ns, nsz)
  if os ~= nil then DN[os] = (DN[os] or 0) - 1; DB[os] = (DB[os] or 0) - osz end
  DN[ns] = (DN[ns] or 0) + 1; DB[ns] = (DB[ns] or 0) + nsz
  local op = os == S_QUEUED or os == S_COPYING or os == S_FAILED
  local np = ns == S_QUEUED or ns == S_COPYING or ns == S_FAILED
  if np and not op then redis.call('ZADD', P, '0', k)
  elseif op and not np then redis.call('ZREM', P, k) end
  if ns == S_FAILED and os ~= S_FAILED then redis.call('ZADD', F, '0', k)
  elseif os == S_FAILED and ns ~= S_FAILED then redis.call('ZREM', F, k) end
end

-- An empty argument is an absent slot.
local function opt(s) if s == '' then return nil end return s end

-- Two S3 sequencers as AWS orders them: right-pad the shorter with '0', compare as strings.
local function qcmp(a, b)
  if #a < #b then a = a .. string.rep('0', #b - #a)
  elseif #b < #a then b = b .. string.rep('0', #a - #b) end
  if a < b then return -1 elseif a > b then return 1 end
  return 0
end

-- 1 when a record in state s with checks c counts as done but unverified (counter 'uv').
local function uvc(s, c)
  if s == S_DONE and type(c) == 'string' and (',' .. c .. ','):find(',src:unverified,', 1, true)
  then return 1 end
  return 0
end

-- Two packed etags name the same object: quotes and hex case aside.
local function esame(a, b)
  if a == nil or b == nil or a == '' or b == '' then return a == b end
  if a == b then return true end
  local ta, tb = string.byte(a, 1), string.byte(b, 1)
  if ta >= 1 and ta <= 4 and tb >= 1 and tb <= 4 then
    return string.sub(a, 2) == string.sub(b, 2)
  end
  local function bare(x)
    if string.byte(x, 1) == 0 then x = string.sub(x, 2) end
    return (string.gsub(x, '^"(.*)"$', '%1'))
  end
  return bare(a) == bare(b)
end

-- The version (mtime m, packed etag e, sequencer q) against record r: -1 older, 0 the same,
-- 1 newer. Sequencers decide when both have one; else mtime, then a different etag is newer.
local function vcmp(m, e, q, r)
  local oq = r[F_SEQ]
  local oe = r[F_ETAG] or ''
  if q ~= '' and oq then
    local c = qcmp(q, oq)
    if c ~= 0 then return c end
    if e == oe or e == '' then return 0 end
    return 1
  end
  local om = r[F_MTIME] or 0
  if m > om then return 1 elseif m < om then return -1 end
  if e == oe or e == '' then return 0 end
  return 1
end
