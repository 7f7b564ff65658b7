"""The scripts of a live process's contact: its heartbeat, the write-back of
what it did without Redis, and its leaving."""

from __future__ import annotations

from .redis_lua_common import _BORROW, _LEARNED, _NOW, _PRELUDE, _REGISTER

# KEYS: the three budget keys, then queue, leases, live, shares and learned.
# ARGV: the tickets' lease, the in-flight lease, the window, instance, claim,
# stale (not used here), expect (see _REGISTER) and capped (see _BORROW), the
# number of tickets, the tickets, then per budget key: the number of in-flight
# members and the members. A live process's heartbeat: it
# stays registered, its tickets keep their place and its requests in flight
# keep counting (their keys live on too). Only what is still there is
# refreshed (XX): a ticket already dropped or a charge already settled never
# comes back; then per budget key its limit (-1: none). Answers {lost (1:
# write every charge back), live instances, {per budget, what the others may
# hold above their shares: the excess they hold, or the cap this process is
# told if higher}, {the learned limits (see _LEARNED)}}.
REFRESH = (
    _NOW
    + _REGISTER
    + _LEARNED
    + _BORROW
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
local capped = tonumber(ARGV[8]) == 1
local at = 9
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
-- (and usage nobody claims: the server's phantom), or the announced cap on
-- it if higher (see _BORROW): while Redis is away this process spends only
-- its share less that, so the fleet stays under the limit however the window
-- was split before the outage and whatever was borrowed since this beat.
local shares = KEYS[budgets + 4]
local caps = numbers(redis.call('HGET', shares, 'cap'), budgets)
local lapsed = now - (tonumber(redis.call('HGET', shares, 'cap:at')) or 0) > window
local excess, told = {}, {}
for i = 1, budgets do
  local limit = lowered(KEYS[budgets + 5], budget_of(KEYS[i]), tonumber(ARGV[at + i - 1]))
  local over = 0
  if limit >= 0 then
    local share = limit / count
    redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
    local held = held_of(redis.call('ZRANGE', KEYS[i], 0, -1), 1)
    over = excess_of(held, share, ARGV[4])
    if lapsed then caps[i] = excess_of(held, share, nil) end
    if capped then over = math.max(over, caps[i]) end
  end
  told[i] = over
  excess[i] = tostring(math.ceil(over))
end
if capped then
  if lapsed then
    redis.call('HSET', shares, 'cap', joined(caps), 'cap:at', string.format('%.6f', now))
  end
  redis.call('HSET', shares, 'told:' .. ARGV[4], joined(told))
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


# KEYS: live, shares. ARGV: instance. A process that closes its store leaves
# the pool's live processes at once (its share is nobody's to hold back).
DEPART = """
redis.call('ZREM', KEYS[1], ARGV[1])
redis.call('HDEL', KEYS[2], ARGV[1], 'told:' .. ARGV[1])
return 1
"""
