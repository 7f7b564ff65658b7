"""Lua pieces every shared-store script builds on.

Each script touches only the keys it is given, and every key of one pool
carries the same `{...}` hash tag, so a Redis Cluster runs it in one slot.
Members are "<id>|<amount>", scored so that they expire one window after their
score: a reservation is scored `now + lease` (it never expires while its
process keeps the lease fresh), a settled charge `now` (it expires one window
later). Time is Redis's own TIME.
"""

from __future__ import annotations

# Redis's time, and a member's amount.
_NOW = """
local function amount_of(member) return tonumber(string.match(member, '|(%-?%d+)$')) end
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1000000
"""
# Scripts whose first argument is the window.
_PRELUDE = (
    _NOW
    + """
local window = tonumber(ARGV[1])
"""
)

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
    redis.call('HDEL', shares, gone, 'told:' .. gone)
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
local function lowered(learned, name, limit)
  local lowest = learned_of(learned, name)
  if lowest and (limit < 0 or lowest < limit) then return lowest end
  return limit
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

# What a raised cap publishes on the pool's channel, where queue heads are
# named (a ticket's member always starts with its instance).
CAP_RAISED = "|cap"

# Borrowing: a process may hold more than its share of a limit (the budget is
# work-conserving), but only as far as every other live process has heard.
# Each heartbeat tells its process a cap on what the others hold above their
# shares (`told:<instance>` in `shares`); while Redis is away that process
# spends its share less the cap, so a grant never takes the fleet's excess
# above the least cap a live process heard.
# A grant past the announced cap (`cap`, raised at `cap:at`) raises it, ahead
# of need, to its excess plus a quarter of what is left below a share (more
# than a share is never of use: the others could not all hold it); it waits
# until the others heard it (the raise is published: they beat at once) only
# if the excess passes what every other process heard.
# Once a window passes without a raise the cap falls back to the excess held.
# A silent process is not asked: its whole share is held back.
_BORROW = """
local function headroom(over, share) return over + math.max(0, share - over) / 4 end
local function numbers(found, n)
  local values, i = {}, 0
  if found then
    for value in string.gmatch(found, '%S+') do i = i + 1; values[i] = tonumber(value) end
  end
  for j = i + 1, n do values[j] = 0 end
  return values
end
local function joined(values)
  local parts = {}
  for i, value in ipairs(values) do parts[i] = string.format('%d', math.ceil(value)) end
  return table.concat(parts, ' ')
end
-- Per owner (the instance that named the member; '' for the server's
-- phantom), what the members given hold.
local function held_of(members, step)
  local held = {}
  for j = 1, #members, step do
    local member = members[j]
    local owner = string.match(member, '^([^.|]+)%.') or ''
    held[owner] = (held[owner] or 0) + amount_of(member)
  end
  return held
end
-- What the owners other than `skip` hold above `share`, and all the phantom.
local function excess_of(held, share, skip)
  local over = 0
  for owner, amount in pairs(held) do
    if owner == '' then over = over + amount
    elseif owner ~= skip and amount > share then over = over + amount - share end
  end
  return over
end
-- Per budget, the least cap a live process other than `instance` heard
-- (nil: no other process is live and heard from within `stale`).
local function heard_caps(live, shares, instance, stale, budgets)
  local least = nil
  for _, other in ipairs(redis.call('ZRANGEBYSCORE', live, now - stale, '+inf')) do
    if other ~= instance then
      local told = numbers(redis.call('HGET', shares, 'told:' .. other), budgets)
      if least == nil then least = told
      else for i = 1, budgets do least[i] = math.min(least[i], told[i]) end end
    end
  end
  return least
end
local function raise_caps(shares, caps, wanted, budgets)
  for i = 1, budgets do caps[i] = math.max(caps[i], wanted[i] or 0) end
  redis.call('HSET', shares, 'cap', joined(caps), 'cap:at', string.format('%.6f', now))
end
"""
