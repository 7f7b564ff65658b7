"""The Lua scripts that make the shared store atomic (one script = one decision).

Each script touches only the keys it is given, and every key of one pool
carries the same `{...}` hash tag, so a Redis Cluster runs it in one slot.
Members are "<id>|<amount>", scored so that they expire one window after their score:
a reservation is scored `now + lease` (it never expires while its process keeps
the lease fresh), a settled charge `now` (it expires one window later). Time is
Redis's own TIME.

The fair queue: `<tag>:queue` orders waiting tickets by arrival (plus a bounded
delay for batch callers), `<tag>:leases` holds each ticket's lease end. Only the
ticket at the head may reserve; a ticket whose lease lapsed (its process died)
is dropped by the next script that looks.
"""

from __future__ import annotations

_PRELUDE = """
local function amount_of(member) return tonumber(string.match(member, '|(%-?%d+)$')) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local window = tonumber(ARGV[1])
"""

_PURGE = """
local function purge(queue, leases, at)
  local dead = redis.call('ZRANGEBYSCORE', leases, '-inf', at)
  for _, ticket in ipairs(dead) do
    redis.call('ZREM', queue, ticket)
    redis.call('ZREM', leases, ticket)
  end
end
"""

# KEYS: the three budget keys, then queue and leases.
# ARGV: window, id, lease, then (amount, limit) per budget key (limit -1 =
# unlimited), then ticket ('' = no fair queue), the ticket's delay (batch
# callers), the ticket's lease, and the channel that hears of a new head.
# Answers {1, now, '', ''} granted; {0, wait, key, ''} wait at the head;
# {2, '', head, my_order} behind another ticket; {-1, limit, key, ''} refused:
# the amount is above the whole limit and no wait can ever make room.
RESERVE = (
    _PRELUDE
    + _PURGE
    + """
local id, lease = ARGV[2], tonumber(ARGV[3])
local budgets = #KEYS - 2
local queue, leases = KEYS[budgets + 1], KEYS[budgets + 2]
local ticket = ARGV[4 + 2 * budgets]
local delay = tonumber(ARGV[5 + 2 * budgets])
local ticket_lease = tonumber(ARGV[6 + 2 * budgets])
local channel = ARGV[7 + 2 * budgets]
for i = 1, budgets do
  local key = KEYS[i]
  local amount, limit = tonumber(ARGV[2 + 2 * i]), tonumber(ARGV[3 + 2 * i])
  if limit >= 0 and amount > limit then return {-1, tostring(limit), key, ''} end
end
if ticket ~= '' then
  local before = redis.call('ZRANGE', queue, 0, 0)[1]
  purge(queue, leases, now)
  local after = redis.call('ZRANGE', queue, 0, 0)[1]
  if after and after ~= before and after ~= ticket then
    redis.call('PUBLISH', channel, after)  -- a dead head went: the next one asks
  end
  local order = redis.call('ZSCORE', queue, ticket)
  if not order then
    order = now + delay
    redis.call('ZADD', queue, order, ticket)
  end
  redis.call('ZADD', leases, now + ticket_lease, ticket)
  local keep = math.ceil((window + delay + ticket_lease) * 1000) + 1000
  redis.call('PEXPIRE', queue, keep)
  redis.call('PEXPIRE', leases, keep)
  local head = redis.call('ZRANGE', queue, 0, 0)[1]
  if head ~= ticket then return {2, '', head, tostring(order)} end
end
local wait, binding = 0, ''
for i = 1, budgets do
  local key = KEYS[i]
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
if wait > 0 then return {0, tostring(wait), binding, ''} end
for i = 1, budgets do
  local key = KEYS[i]
  redis.call('ZADD', key, now + lease, id .. '|' .. ARGV[2 + 2 * i])
  redis.call('PEXPIRE', key, math.ceil((window + lease) * 1000) + 1000)
end
if ticket ~= '' then
  redis.call('ZREM', queue, ticket)
  redis.call('ZREM', leases, ticket)
  local next_head = redis.call('ZRANGE', queue, 0, 0)[1]
  if next_head then redis.call('PUBLISH', channel, next_head) end
end
return {1, tostring(now), '', ''}
"""
)

# KEYS: queue, leases. ARGV: ticket, channel. A waiter that gives up
# (cancelled, failed) leaves the queue at once; a new head hears of it.
LEAVE = """
local head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if head == ARGV[1] then
  local next_head = redis.call('ZRANGE', KEYS[1], 0, 0)[1]
  if next_head then redis.call('PUBLISH', ARGV[2], next_head) end
end
return 1
"""

# KEYS: the three budget keys, then queue and leases. ARGV: the tickets' lease,
# the in-flight lease, the window, the number of tickets, the tickets, then per
# budget key: the number of in-flight members and the members. A live process's
# heartbeat: its tickets keep their place and its requests in flight keep
# counting (their keys live on too). Only what is still there is refreshed
# (XX): a ticket already dropped or a charge already settled never comes back.
REFRESH = """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
local ticket_lease, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local budgets = #KEYS - 2
local function keep(key, seconds)
  local ms = math.ceil(seconds * 1000) + 1000
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local at = 4
local tickets = tonumber(ARGV[at])
for j = 1, tickets do
  redis.call('ZADD', KEYS[budgets + 2], 'XX', now + ticket_lease, ARGV[at + j])
end
if tickets > 0 then
  keep(KEYS[budgets + 1], 2 * window + ticket_lease)
  keep(KEYS[budgets + 2], 2 * window + ticket_lease)
end
at = at + tickets + 1
for i = 1, budgets do
  local members = tonumber(ARGV[at])
  for j = 1, members do
    redis.call('ZADD', KEYS[i], 'XX', now + lease, ARGV[at + j])
  end
  if members > 0 then keep(KEYS[i], window + lease) end
  at = at + members + 1
end
return 1
"""

# KEYS: queue, leases. The live tickets waiting (dead ones dropped first).
QUEUE_LENGTH = (
    _PURGE
    + """
local t = redis.call('TIME')
purge(KEYS[1], KEYS[2], tonumber(t[1]) + tonumber(t[2]) / 1000000)
return redis.call('ZCARD', KEYS[1])
"""
)

# ARGV: window, id, then (old, new) amount per key. The settled charge's
# window starts now, even when the reservation's lease had lapsed meanwhile
# (the server counts the request whatever our lease said).
SETTLE = (
    _PRELUDE
    + """
local id = ARGV[2]
for i, key in ipairs(KEYS) do
  redis.call('ZREM', key, id .. '|' .. ARGV[1 + 2 * i])
  local new = ARGV[2 + 2 * i]
  if tonumber(new) ~= 0 then
    redis.call('ZADD', key, now, id .. '|' .. new)
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
