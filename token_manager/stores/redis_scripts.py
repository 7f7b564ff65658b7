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

# The live processes of a pool (the Doorman-style leases): `live` scores each
# instance by its last contact, `shares` holds the share of every limit it may
# spend alone while it cannot reach Redis, for `claim` seconds after its last
# contact (its lease, plus one window while those charges count). An instance
# silent for `stale` seconds may be spending its share unseen: the others
# admit against the rest. `expect` 1: this instance spoke to Redis before, so
# finding itself missing means Redis lost its data (restart, or a partition
# outlasting the claim): it must write its charges back before any grant.
_REGISTER = """
local function register(live, shares, instance, claim, expect)
  local known = redis.call('ZSCORE', live, instance)
  local ended = redis.call('ZRANGEBYSCORE', live, '-inf', now - claim)
  for _, gone in ipairs(ended) do
    redis.call('ZREM', live, gone)
    redis.call('HDEL', shares, gone)
  end
  redis.call('ZADD', live, now, instance)
  local count = redis.call('ZCARD', live)
  redis.call('HSET', shares, instance, string.format('%.6f', 1 / count))
  local keep = math.ceil(claim * 1000) + 1000
  redis.call('PEXPIRE', live, keep)
  redis.call('PEXPIRE', shares, keep)
  return (expect == 1 and not known), count
end
local function unseen_share(live, shares, instance, stale)
  local share = 0
  for _, silent in ipairs(redis.call('ZRANGEBYSCORE', live, '-inf', now - stale)) do
    if silent ~= instance then
      share = share + (tonumber(redis.call('HGET', shares, silent)) or 0)
    end
  end
  return math.min(1, share)
end
"""

# The lowest limit learned from the server's headers per budget, shared by
# every process of one pool and API key: field `<budget>` holds the limit,
# `<budget>:until` the Redis time it lapses (a lower limit replaces a higher
# one at once; a higher one only once the lower has lapsed).
_LEARNED = """
local function budget_of(key) return string.match(key, '([^:]+)$') end
local function learned_of(learned, name)
  local pair = redis.call('HMGET', learned, name, name .. ':until')
  local limit, ends = tonumber(pair[1]), tonumber(pair[2])
  if limit and ends and ends > now then return limit, ends - now end
  return nil, 0
end
local function learned_reply(learned, names)
  local reply = {}
  for _, name in ipairs(names) do
    local limit, left = learned_of(learned, name)
    if limit then
      table.insert(reply, name)
      table.insert(reply, tostring(limit))
      table.insert(reply, tostring(left))
    end
  end
  return reply
end
"""

# KEYS: the three budget keys, then queue, leases, live, shares and learned.
# ARGV: window, id, lease, then (amount, limit) per budget key (limit -1 =
# unlimited), then ticket ('' = no fair queue), the ticket's delay (batch
# callers), the ticket's lease, the channel that hears of a new head, then
# instance, claim, stale and expect (see _REGISTER).
# Answers {1, now, '', '', live} granted; {0, wait, key, '', live} wait at the
# head; {2, '', head, my_order, live} behind another ticket; {-1, limit, key,
# '', live} refused: the amount is above the whole limit and no wait can ever
# make room; {3, '', '', '', live}: Redis lost its data, write charges back.
# Each answer ends with the learned limits (see _LEARNED: name, limit, seconds
# left, per budget learned); each limit given is lowered to the learned one.
RESERVE = (
    _PRELUDE
    + _PURGE
    + _REGISTER
    + _LEARNED
    + """
local id, lease = ARGV[2], tonumber(ARGV[3])
local budgets = #KEYS - 5
local queue, leases = KEYS[budgets + 1], KEYS[budgets + 2]
local live, shares = KEYS[budgets + 3], KEYS[budgets + 4]
local learned = KEYS[budgets + 5]
local names, limits = {}, {}
for i = 1, budgets do
  names[i] = budget_of(KEYS[i])
  limits[i] = tonumber(ARGV[3 + 2 * i])
  local lowest = learned_of(learned, names[i])
  if lowest and (limits[i] < 0 or lowest < limits[i]) then limits[i] = lowest end
end
local known = learned_reply(learned, names)
local ticket = ARGV[4 + 2 * budgets]
local delay = tonumber(ARGV[5 + 2 * budgets])
local ticket_lease = tonumber(ARGV[6 + 2 * budgets])
local channel = ARGV[7 + 2 * budgets]
local instance, claim = ARGV[8 + 2 * budgets], tonumber(ARGV[9 + 2 * budgets])
local stale, expect = tonumber(ARGV[10 + 2 * budgets]), tonumber(ARGV[11 + 2 * budgets])
local lost, count = register(live, shares, instance, claim, expect)
if lost then return {3, '', '', '', count, known} end
for i = 1, budgets do
  local key = KEYS[i]
  local amount, limit = tonumber(ARGV[2 + 2 * i]), limits[i]
  if limit >= 0 and amount > limit then
    return {-1, tostring(limit), key, '', count, known}
  end
end
local unseen = unseen_share(live, shares, instance, stale)
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
  if head ~= ticket then return {2, '', head, tostring(order), count, known} end
end
local wait, binding = 0, ''
for i = 1, budgets do
  local key = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local amount, limit = tonumber(ARGV[2 + 2 * i]), limits[i]
  if limit >= 0 then
    limit = limit - math.ceil(unseen * limit)
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    local total = 0
    for j = 1, #members, 2 do total = total + amount_of(members[j]) end
    local excess = total + amount - limit
    if excess > 0 then
      -- Until enough expires; if nothing can (a silent instance's share holds
      -- the rest), until that instance is seen again or its claim ends.
      local until_free = stale
      local freed = 0
      for j = 1, #members, 2 do
        freed = freed + amount_of(members[j])
        if freed >= excess then
          until_free = tonumber(members[j + 1]) + window - now
          break
        end
      end
      if until_free > wait then wait, binding = until_free, key end
    end
  end
end
if wait > 0 then return {0, tostring(wait), binding, '', count, known} end
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
return {1, tostring(now), '', '', count, known}
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

# KEYS: the three budget keys, then queue, leases, live, shares and learned.
# ARGV: the tickets' lease, the in-flight lease, the window, instance, claim, stale (not
# used here) and expect (see _REGISTER), the number of tickets, the tickets, then per budget key: the
# number of in-flight members and the members. A live process's heartbeat: it
# stays registered, its tickets keep their place and its requests in flight
# keep counting (their keys live on too). Only what is still there is
# refreshed (XX): a ticket already dropped or a charge already settled never
# comes back; then per budget key its limit (-1: none). Answers {lost (1:
# write every charge back), live instances, {others' excess per budget},
# {the learned limits (see _LEARNED)}}.
REFRESH = (
    """
local function amount_of(member) return tonumber(string.match(member, '|(%-?%d+)$')) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
    + _REGISTER
    + _LEARNED
    + """
local ticket_lease, lease = tonumber(ARGV[1]), tonumber(ARGV[2])
local window = tonumber(ARGV[3])
local budgets = #KEYS - 5
local lost, count = register(
  KEYS[budgets + 3], KEYS[budgets + 4], ARGV[4], tonumber(ARGV[5]), tonumber(ARGV[7]))
local function keep(key, seconds)
  local ms = math.ceil(seconds * 1000) + 1000
  if redis.call('PTTL', key) < ms then redis.call('PEXPIRE', key, ms) end
end
local at = 8
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
-- Per budget, what the other processes hold above their share of `limit`
-- (and usage nobody claims: the server's phantom): while Redis is away this
-- process spends only its share less that, so the fleet stays under the limit
-- however the window was split before the outage.
local excess = {}
for i = 1, budgets do
  local limit = tonumber(ARGV[at + i - 1])
  local over = 0
  if limit >= 0 then
    local share = limit / count
    local held = {}
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    for _, member in ipairs(redis.call('ZRANGE', KEYS[i], 0, -1)) do
      local owner = string.match(member, '^([^.|]+)%.') or ''
      if owner ~= ARGV[4] then
        local amount = amount_of(member)
        if owner == '' then over = over + amount
        else held[owner] = (held[owner] or 0) + amount end
      end
    end
    for _, amount in pairs(held) do
      if amount > share then over = over + amount - share end
    end
  end
  excess[i] = tostring(math.floor(over + 0.5))
end
local names = {}
for i = 1, budgets do names[i] = budget_of(KEYS[i]) end
return {lost and 1 or 0, count, excess, learned_reply(KEYS[budgets + 5], names)}
"""
)

# KEYS: the three budget keys. ARGV: window, lease, then per charge: its id,
# its age in seconds (-1: in flight), then per key its reserved and its current
# amount. Charges this process granted or settled while Redis was away, or all
# of them again after Redis lost its data: the in-flight member goes, the
# settled one is written with its real age. Members are named by reservation,
# so writing one twice counts it once.
SYNC = (
    _PRELUDE
    + """
local lease = tonumber(ARGV[2])
local budgets = #KEYS
local at = 3
while at <= #ARGV do
  local id, age = ARGV[at], tonumber(ARGV[at + 1])
  for i = 1, budgets do
    local key = KEYS[i]
    local reserved, amount = ARGV[at + 2 * i], ARGV[at + 2 * i + 1]
    if age < 0 then
      redis.call('ZADD', key, now + lease, id .. '|' .. reserved)
      redis.call('PEXPIRE', key, math.ceil((window + lease) * 1000) + 1000)
    else
      redis.call('ZREM', key, id .. '|' .. reserved)
      if tonumber(amount) ~= 0 and age < window then
        redis.call('ZADD', key, now - age, id .. '|' .. amount)
        if redis.call('PTTL', key) < math.ceil(window * 1000) then
          redis.call('PEXPIRE', key, math.ceil(window * 1000) + 1000)
        end
      end
    end
  end
  at = at + 2 + 2 * budgets
end
return 1
"""
)

# KEYS[1]: learned. ARGV: seconds a limit holds, then (budget, limit) pairs.
# A limit the server's headers said: kept if it is the lowest known, or the
# lowest lapsed; the same limit said again holds longer. Answers the learned
# limits as RESERVE does.
LEARN = (
    """
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
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

# KEYS: live, shares. ARGV: instance. A process that closes its store leaves
# the pool's live processes at once (its share is nobody's to hold back).
DEPART = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1])
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
