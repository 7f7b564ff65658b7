"""The scripts of a pool's fair queue: reserve at the head, leave, count.

`<tag>:queue` orders waiting tickets by arrival (plus a bounded delay for
batch callers), `<tag>:leases` holds each ticket's lease end. Only the ticket
at the head may reserve; a ticket whose lease lapsed (its process died) is
dropped by the next script that looks.
"""

from __future__ import annotations

from .redis_lua_common import (
    _BORROW,
    _LEARNED,
    _NOW,
    _PRELUDE,
    _PURGE,
    _REGISTER,
    CAP_RAISED,
)

# How soon a borrower blocked by the cap asks again: the others hear the raise
# on the channel and beat at once (a message and a script each).
HEARD_SECONDS = 0.05

# KEYS: the three budget keys, then queue, leases, live, shares and learned.
# ARGV: window, id, lease, then (amount, limit) per budget key (limit -1 =
# unlimited), then ticket ('' = no fair queue), the ticket's delay (batch
# callers), the ticket's lease, the channel that hears of a new head, then
# instance, claim, stale, expect (see _REGISTER) and capped (1: borrowing
# is bounded, see _BORROW).
# Answers {1, now, '', '', live} granted; {0, wait, key, '', live} wait at the
# head (until the window frees, or until the others heard a raised cap: they
# hear of it on the channel and beat at once); {2, '', head, my_order, live}
# behind another ticket; {-1, limit, key, '', live} refused: the amount is
# above the whole limit and no wait can ever make room; {3, '', '', '', live}:
# Redis lost its data, write charges back.
# Each answer ends with the learned limits (see _LEARNED: name, limit, seconds
# left, per budget learned); each limit given is lowered to the learned one.
RESERVE = (
    _PRELUDE
    + _PURGE
    + _REGISTER
    + _LEARNED
    + _BORROW
    + f"""
local CAP_RAISED, HEARD_SECONDS = '{CAP_RAISED}', {HEARD_SECONDS}
"""
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
  limits[i] = lowered(learned, names[i], limits[i])
end
local known = learned_reply(learned, names)
local ticket = ARGV[4 + 2 * budgets]
local delay = tonumber(ARGV[5 + 2 * budgets])
local ticket_lease = tonumber(ARGV[6 + 2 * budgets])
local channel = ARGV[7 + 2 * budgets]
local instance, claim = ARGV[8 + 2 * budgets], tonumber(ARGV[9 + 2 * budgets])
local stale, expect = tonumber(ARGV[10 + 2 * budgets]), tonumber(ARGV[11 + 2 * budgets])
local capped = tonumber(ARGV[12 + 2 * budgets]) == 1
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
local caps = capped and heard_caps(live, shares, instance, stale, budgets) or nil
local announced = caps and numbers(redis.call('HGET', shares, 'cap'), budgets)
local wanted, raise, unheard = {}, false, ''
for i = 1, budgets do
  local key = KEYS[i]
  redis.call('ZREMRANGEBYSCORE', key, '-inf', now - window)
  local amount, limit = tonumber(ARGV[2 + 2 * i]), limits[i]
  if limit >= 0 then
    local members = redis.call('ZRANGE', key, 0, -1, 'WITHSCORES')
    if caps then
      local share, held = limit / count, held_of(members, 2)
      local before = excess_of(held, share, nil)
      held[instance] = (held[instance] or 0) + amount
      local after = excess_of(held, share, nil)
      if after > before and after > announced[i] then
        wanted[i], raise = headroom(after, share), true
      end
      if after > before and after > caps[i] and unheard == '' then unheard = key end
    end
    limit = limit - math.ceil(unseen * limit)
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
if raise then
  raise_caps(shares, announced, wanted, budgets)
  redis.call('PUBLISH', channel, CAP_RAISED)  -- the others beat now, not later
end
if wait > 0 then return {0, tostring(wait), binding, '', count, known} end
if unheard ~= '' then
  return {0, tostring(HEARD_SECONDS), unheard, '', count, known}
end
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


# KEYS: queue, leases. The live tickets waiting (dead ones dropped first).
QUEUE_LENGTH = (
    _NOW
    + _PURGE
    + """
purge(KEYS[1], KEYS[2], now)
return redis.call('ZCARD', KEYS[1])
"""
)
