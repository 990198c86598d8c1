-- lease: renew (PEXPIRE) or release (ms 0) a key's copy lease, only for the holder's token.
-- KEYS: lease; ARGV: token ms
-- Returns 1 done, 0 the token does not hold the lease.
if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end
if ARGV[2] == '0' then redis.call('DEL', KEYS[1]) else
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 1
