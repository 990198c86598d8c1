-- fail: a record not done/skipped/deleted -> failed (dead letters). After the prelude.
-- KEYS: bucket pending failed counters; ARGV: key error now
-- Returns 1 failed, 0 already final, -3 no record.
local k = ARGV[1]
local r = load(KEYS[1], k)
if not r then return -3 end
local os = r[F_STATE]
if final(os) then return 0 end
local now = tonumber(ARGV[3])
r[F_STATE] = S_FAILED; r[F_ERROR] = opt(ARGV[2])
r[F_FINISHED_AFTER] = math.max(0, now - ((r[F_QUEUED_AT] or now) + (r[F_STARTED_AFTER] or 0)))
save(KEYS[1], k, r)
account(KEYS[2], KEYS[3], k, os, r[F_SIZE] or 0, S_FAILED, r[F_SIZE] or 0)
flush(KEYS[4])
return 1
