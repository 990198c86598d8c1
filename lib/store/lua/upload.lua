-- upload: set ('' clears) the record's open multipart upload id while the lease is ours.
-- After the prelude.
-- KEYS: bucket lease; ARGV: key token upload_id
-- Returns 1 set, -2 another token holds the lease, -3 no record.
local cur = redis.call('GET', KEYS[2])
if cur and cur ~= ARGV[2] then return -2 end
local r = load(KEYS[1], ARGV[1])
if not r then return -3 end
if #ARGV[3] > UPLOAD_ID_MAX then
  return redis.error_reply('ERR ferry: upload id over ' .. UPLOAD_ID_MAX .. ' bytes')
end
r[F_UPLOAD_ID] = opt(ARGV[3])
save(KEYS[1], ARGV[1], r)
return 1
