/**
 * The Redis side of the limiter: one Lua script per request (one round trip), checking and
 * charging every rule of a subject atomically with the same sub-bucket arithmetic as
 * `window.ts`. Each rule is a hash: `o` oldest bucket holding units, `n` newest charged bucket,
 * `t` running total, and one field per bucket index.
 *
 * KEYS[i]  the hash of rule i
 * ARGV[1]  now in ms, or '' to use the Redis server's clock (one clock for every instance)
 * ARGV[2]  cost (0 only reads)
 * ARGV[3]  slots: how many buckets back a scan may reach
 * ARGV[4 + 3(i-1) ..]  limit, window ms, bucket ms of rule i
 * Returns  {allowed, now, used_1, reset_1, wait_1, used_2, ...}: used after the decision, ms until
 *          the oldest counted unit leaves, ms until this cost would fit (0 when it fits now).
 */
/** Lua: `now` from ARGV[1] (ms), or the Redis server's clock when it is empty. */
export const NOW_FROM_ARGV = `
local now = tonumber(ARGV[1])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
`

export const LIMIT_SCRIPT = `${NOW_FROM_ARGV}
local cost = tonumber(ARGV[2])
local slots = tonumber(ARGV[3])

local function field(index) return string.format('%d', index) end
local function expiry(index, window, bucket) return (index + 1) * bucket + window end

-- Drops the buckets that left the window; returns the oldest present bucket (or -1), the
-- newest charged bucket (or -1) and the units still counted.
local function advance(key, window, bucket)
  local min = math.floor((now - window) / bucket)
  local state = redis.call('HMGET', key, 'o', 'n', 't')
  local oldest, newest, total = tonumber(state[1]), tonumber(state[2]), tonumber(state[3]) or 0
  if not newest then return -1, -1, 0 end
  if min > newest then
    redis.call('DEL', key)
    return -1, -1, 0
  end
  if oldest < min then
    for index = math.max(oldest, min - slots), min - 1 do
      local units = tonumber(redis.call('HGET', key, field(index)))
      if units then
        total = total - units
        redis.call('HDEL', key, field(index))
      end
    end
    oldest = newest
    for index = min, newest do
      if redis.call('HEXISTS', key, field(index)) == 1 then
        oldest = index
        break
      end
    end
    redis.call('HSET', key, 'o', field(oldest), 't', total)
  end
  return oldest, newest, total
end

-- First counted bucket from which dropping units lets 'need' more fit 'limit'; its expiry - now.
local function wait_for(key, oldest, newest, total, need, limit, window, bucket)
  for index = oldest, newest do
    if total + need <= limit then return 0 end
    local units = tonumber(redis.call('HGET', key, field(index)))
    if units then
      total = total - units
      if total + need <= limit then return expiry(index, window, bucket) - now end
    end
  end
  return 0
end

local rules = {}
local allowed = 1
for i, key in ipairs(KEYS) do
  local base = 4 + 3 * (i - 1)
  local rule = { key = key, limit = tonumber(ARGV[base]), window = tonumber(ARGV[base + 1]), bucket = tonumber(ARGV[base + 2]) }
  rule.oldest, rule.newest, rule.total = advance(key, rule.window, rule.bucket)
  if rule.total + cost > rule.limit then allowed = 0 end
  rules[i] = rule
end

if allowed == 1 and cost > 0 then
  for _, rule in ipairs(rules) do
    local index = math.floor(now / rule.bucket)
    redis.call('HINCRBY', rule.key, field(index), cost)
    rule.total = rule.total + cost
    if rule.oldest < 0 then rule.oldest = index end
    if index > rule.newest then rule.newest = index end
    redis.call('HSET', rule.key, 't', rule.total, 'n', field(rule.newest), 'o', field(rule.oldest))
    redis.call('PEXPIRE', rule.key, rule.window + rule.bucket)
  end
end

local out = { allowed, now }
for _, rule in ipairs(rules) do
  local reset = 0
  if rule.total > 0 then reset = wait_for(rule.key, rule.oldest, rule.newest, rule.total, rule.limit - rule.total + 1, rule.limit, rule.window, rule.bucket) end
  local wait = 0
  if allowed == 0 and rule.total + cost > rule.limit then
    wait = wait_for(rule.key, rule.oldest, rule.newest, rule.total, cost, rule.limit, rule.window, rule.bucket)
  end
  table.insert(out, rule.total)
  table.insert(out, reset)
  table.insert(out, wait)
end
return out
`

/**
 * Gives back units of an admitted charge: takes up to `cost` units out of the bucket that holds
 * `at` in each rule's hash, if that bucket is still there (it is dropped once out of the window).
 *
 * KEYS[i]  the hash of rule i
 * ARGV[1]  cost
 * ARGV[2]  at: the charge's time in ms (the `now` LIMIT_SCRIPT returned)
 * ARGV[3 + (i-1)]  bucket ms of rule i
 */
export const REFUND_SCRIPT = `
local cost = tonumber(ARGV[1])
local at = tonumber(ARGV[2])
for i, key in ipairs(KEYS) do
  local field = string.format('%d', math.floor(at / tonumber(ARGV[2 + i])))
  local units = tonumber(redis.call('HGET', key, field))
  if units then
    local back = math.min(cost, units)
    if back == units then redis.call('HDEL', key, field) else redis.call('HINCRBY', key, field, -back) end
    redis.call('HINCRBY', key, 't', -back)
  end
end
return 1
`
