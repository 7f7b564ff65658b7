"""The scripts that read and correct a pool's windows: usage, the server's
ceiling, and the limits learned from its headers."""

from __future__ import annotations

from .redis_lua_common import _LEARNED, _NOW, _PRELUDE

# ARGV: window. Per key, the total the window holds (in-flight charges included).
USAGE = (
    _PRELUDE
    + """
local totals = {}
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local members = redis.call('ZRANGE', key, 0, -1)
  local total = 0
  for j = 1, #members do total = total + amount_of(members[j]) end
  totals[i] = total
end
return totals
"""
)


# KEYS[1]: one budget's key. ARGV: window, expires_in, server_used. The server
# counts `server_used`; the part the shared total does not hold (usage we never
# saw) becomes the one phantom member, replacing the previous phantom.
CEILING = (
    _PRELUDE
    + """
local key = KEYS[1]
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
local members = redis.call('ZRANGE', key, 0, -1)
local total = 0
for j = 1, #members do
  if string.sub(members[j], 1, 8) == 'ceiling|' then
    redis.call('ZREM', key, members[j])
  else
    total = total + amount_of(members[j])
  end
end
local phantom = tonumber(ARGV[3]) - total
if phantom > 0 then
  redis.call('ZADD', key, now + tonumber(ARGV[2]) - window, 'ceiling|' .. phantom)
  if redis.call('PTTL', key) < math.ceil(window * 1000) then
    redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
  end
  return phantom
end
return 0
"""
)


# KEYS[1]: learned. ARGV: seconds a limit holds, then (budget, limit) pairs.
# A limit the server's headers said: kept if it is the lowest known, or the
# lowest lapsed; the same limit said again holds longer. Answers the learned
# limits as RESERVE does.
LEARN = (
    _NOW
    + _LEARNED
    + """
local learned, holds = KEYS[1], tonumber(ARGV[1])
local names = {}
for at = 2, #ARGV, 2 do
  local name, limit = ARGV[at], tonumber(ARGV[at + 1])
  table.insert(names, name)
  local lowest = learned_of(learned, name)
  local ends = tonumber(redis.call('HGET', learned, name .. ':until')) or 0
  if not lowest or limit < lowest then
    redis.call('HSET', learned, name, limit, name .. ':until', now + holds)
  elseif limit == lowest and now + holds > ends then
    redis.call('HSET', learned, name .. ':until', now + holds)
  end
end
local keep = math.ceil(holds * 1000) + 1000
if redis.call('PTTL', learned) < keep then redis.call('PEXPIRE', learned, keep) end
return learned_reply(learned, names)
"""
)
