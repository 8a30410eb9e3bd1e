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

-- Reads the rule's state and the units of the bucket 'now' falls in (one HMGET), dropping the
-- buckets that left the window; returns the oldest present bucket (or -1), the newest charged
-- bucket (or -1), the units still counted and the units of the current bucket.
local function advance(key, window, bucket, current)
  local min = math.floor((now - window) / bucket)
  local state = redis.call('HMGET', key, 'o', 'n', 't', field(current))
  local oldest, newest, total = tonumber(state[1]), tonumber(state[2]), tonumber(state[3]) or 0
  if not newest then return -1, -1, 0, 0 end
  if min > newest then
    redis.call('DEL', key)
    return -1, -1, 0, 0
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
  -- Nothing counted (every unit refunded): the next charge starts the oldest bucket anew.
  if total <= 0 then oldest = -1 end
  return oldest, newest, total, tonumber(state[4]) or 0
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
  rule.index = math.floor(now / rule.bucket)
  rule.oldest, rule.newest, rule.total, rule.here = advance(key, rule.window, rule.bucket, rule.index)
  if rule.total + cost > rule.limit then allowed = 0 end
  rules[i] = rule
end

-- One HSET per rule; the expiry moves only when a new bucket is charged (at most once a bucket):
-- set then, it already outlasts every unit that bucket will hold.
if allowed == 1 and cost > 0 then
  for _, rule in ipairs(rules) do
    rule.total = rule.total + cost
    if rule.oldest < 0 then rule.oldest = rule.index end
    local fresh = rule.index > rule.newest
    if fresh then rule.newest = rule.index end
    redis.call('HSET', rule.key, field(rule.index), rule.here + cost, 't', rule.total, 'n', field(rule.newest), 'o', field(rule.oldest))
    if fresh then redis.call('PEXPIRE', rule.key, rule.window + rule.bucket) end
  end
end

-- The oldest present bucket always holds units (a refund that empties it moves 'o' on), so the
-- reset is when it leaves the window, without reading it.
local out = { allowed, now }
for _, rule in ipairs(rules) do
  local reset = 0
  if rule.total > 0 then reset = expiry(rule.oldest, rule.window, rule.bucket) - now end
  local wait = 0
  if allowed == 0 and rule.total > 0 and rule.total + cost > rule.limit then
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
    if back == units then
      redis.call('HDEL', key, field)
      -- The oldest bucket emptied: the next present one is the oldest now (LIMIT_SCRIPT reads its reset from it).
      local state = redis.call('HMGET', key, 'o', 'n')
      local oldest, newest = tonumber(state[1]), tonumber(state[2])
      if oldest and newest and string.format('%d', oldest) == field then
        for index = oldest + 1, newest do
          if redis.call('HEXISTS', key, string.format('%d', index)) == 1 then
            redis.call('HSET', key, 'o', string.format('%d', index))
            break
          end
        end
      end
    else
      redis.call('HINCRBY', key, field, -back)
    end
    redis.call('HINCRBY', key, 't', -back)
  end
end
return 1
`
