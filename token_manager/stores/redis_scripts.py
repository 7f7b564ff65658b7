"""The Lua scripts that make the shared store atomic (one script = one decision).

Each script touches only the keys it is given, and every key of one pool
carries the same `{...}` hash tag, so a Redis Cluster runs it in one slot.
Members are "<id>|<amount>", scored so that they expire one window after their score:
a reservation is scored `now + lease` (it never expires while in flight), a
settled charge `now` (it expires one window later). Time is Redis's own TIME.
"""

from __future__ import annotations

_PRELUDE = """
local function amount_of(member) return tonumber(string.match(member, '|(%-?%d+)$')) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
"""

# ARGV: window, id, lease, then (amount, limit) per key; limit -1 = unlimited.
# Answers {1, now, ''} granted; {0, wait, key} wait; {-1, limit, key} refused:
# the amount is above the whole limit and no wait can ever make room.
RESERVE = (
    _PRELUDE
    + """
local id, lease = ARGV[2], tonumber(ARGV[3])
for i, key in ipairs(KEYS) do
  local amount, limit = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if limit >= 0 and amount > limit then return {-1, tostring(limit), key} end
end
local wait, binding = 0, ''
for i, key in ipairs(KEYS) do
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local amount, limit = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if limit >= 0 then
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    local total = 0
    for j = 1, #members, 2 do total = total + amount_of(members[j]) end
    local excess = total + amount - limit
    if excess > 0 then
      local freed = 0
      for j = 1, #members, 2 do
        freed = freed + amount_of(members[j])
        if freed >= excess then
          local until_free = tonumber(members[j + 1]) + window - now
          if until_free > wait then wait, binding = until_free, key end
          break
        end
      end
    end
  end
end
if wait > 0 then return {0, tostring(wait), binding} end
for i, key in ipairs(KEYS) do
  redis.call('ZADD', key, now + lease, id .. '|' .. ARGV[2 + 2 * i])
  redis.call('PEXPIRE', key, math.ceil((window + lease) * 1000) + 1000)
end
return {1, tostring(now), ''}
"""
)

# ARGV: window, id, then (old, new) amount per key. The settled charge's
# window starts now; a reservation already expired stays gone.
SETTLE = (
    _PRELUDE
    + """
local id = ARGV[2]
for i, key in ipairs(KEYS) do
  if redis.call('ZREM', key, id .. '|' .. ARGV[1 + 2 * i]) == 1 then
    local new = ARGV[2 + 2 * i]
    if tonumber(new) ~= 0 then redis.call('ZADD', key, now, id .. '|' .. new) end
    if redis.call('PTTL', key) < math.ceil(window * 1000) then
      redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
    end
  end
end
return 1
"""
)

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
