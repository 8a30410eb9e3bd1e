/**
 * Micro-benchmarks of the request path's building blocks: cached key verification, the
 * in-memory limiter, and the Redis limiter (one round trip per check).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { Redis } from 'ioredis'
import { openDatabase } from '../../src/db/database.js'
import { generateKey } from '../../src/keys/format.js'
import { KeyService } from '../../src/keys/service.js'
import { systemClock } from '../../src/lib/clock.js'
import { MemoryLimiter } from '../../src/ratelimit/memory.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import { RedisLimiter } from '../../src/ratelimit/redis.js'
import { median } from '../lib/load.js'
import type { ScenarioReport } from '../lib/report.js'
import { fmt, markdownTable } from '../lib/report.js'

export interface MicroOptions {
  redisUrl: string
  log: (line: string) => void
}

const RULES: LimitRule[] = [{ name: 'minute', limit: 1_000_000_000, windowMs: 60_000 }]

/** Median ns per call over `rounds` timed loops of `n` calls (after a warm-up loop). */
function timeSync(fn: (i: number) => unknown, n = 200_000, rounds = 7): number {
  for (let i = 0; i < n; i++) fn(i)
  const samples: number[] = []
  for (let r = 0; r < rounds; r++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < n; i++) fn(i)
    samples.push(Number(process.hrtime.bigint() - start) / n)
  }
  return median(samples)
}

async function verificationNs(): Promise<{ cached: number; malformed: number }> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-micro-'))
  const db = await openDatabase({ dataDir })
  const keys = new KeyService({ db, clock: systemClock, defaultLimits: [] })
  const { key } = await keys.create({ name: 'micro', scopes: ['predict'] })
  await keys.verify(key)
  const cached = timeSync(() => keys.verify(key))
  const bad = generateKey().slice(0, -1) + '!'
  const malformed = timeSync(() => keys.verify(bad))
  await keys.close()
  await db.close()
  fs.rmSync(dataDir, { recursive: true, force: true })
  return { cached, malformed }
}

/** CPU µs per call, in this process and in the Redis server, with 32 calls in flight (as under the http-predict load). */
interface CallCpu {
  clientUs: number
  serverUs: number
}

async function redisServerCpuUs(redis: Redis): Promise<number> {
  const info = await redis.info('cpu')
  const seconds = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? NaN)
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1e6
}

async function cpuPerCall(redis: Redis, call: () => Promise<unknown>, n = 20_000): Promise<CallCpu> {
  const server = await redisServerCpuUs(redis)
  const client = process.cpuUsage()
  let next = 0
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next++ < n) await call()
    }),
  )
  const used = process.cpuUsage(client)
  return { clientUs: (used.user + used.system) / n, serverUs: ((await redisServerCpuUs(redis)) - server) / n }
}

/** Interleaved rounds of the limiter check and of a bare INCR (what any one command costs), medians. */
async function cpuFigures(redis: Redis, limiter: RedisLimiter): Promise<{ check: CallCpu; incr: CallCpu }> {
  const key = `infergate-bench:${process.pid}:incr`
  const rounds: { check: CallCpu; incr: CallCpu }[] = []
  for (let round = 0; round < 5; round++) {
    rounds.push({
      check: await cpuPerCall(redis, () => limiter.consume('cpu', RULES, 1)),
      incr: await cpuPerCall(redis, () => redis.incr(key)),
    })
  }
  const medianOf = (pick: (r: { check: CallCpu; incr: CallCpu }) => number) => median(rounds.map(pick))
  return {
    check: { clientUs: medianOf((r) => r.check.clientUs), serverUs: medianOf((r) => r.check.serverUs) },
    incr: { clientUs: medianOf((r) => r.incr.clientUs), serverUs: medianOf((r) => r.incr.serverUs) },
  }
}

async function redisFigures(
  url: string,
): Promise<
  { sequentialUs: number; concurrentPerSec: number; roundTripsPerCheck: number; cpu: { check: CallCpu; incr: CallCpu } } | string
> {
  const redis = new Redis(url, { maxRetriesPerRequest: 0, lazyConnect: true })
  try {
    await redis.connect()
  } catch {
    return `no Redis at ${url}`
  }
  const limiter = new RedisLimiter({ redis, prefix: `infergate-bench:${process.pid}:` })
  for (let i = 0; i < 2000; i++) await limiter.consume('warm', RULES, 1)
  const scriptCalls = async () => {
    const stats = await redis.info('commandstats')
    return ['evalsha', 'eval'].reduce((sum, name) => sum + Number(new RegExp(`cmdstat_${name}:calls=(\\d+)`).exec(stats)?.[1] ?? 0), 0)
  }
  const before = await scriptCalls()
  const n = 5000
  let start = performance.now()
  for (let i = 0; i < n; i++) await limiter.consume('seq', RULES, 1)
  const sequentialUs = ((performance.now() - start) * 1000) / n
  // Each check is one EVALSHA (or EVAL the first time): one round trip.
  const roundTripsPerCheck = ((await scriptCalls()) - before) / n
  start = performance.now()
  const batches = 50
  for (let b = 0; b < batches; b++) await Promise.all(Array.from({ length: 200 }, (_, i) => limiter.consume(`c${i % 64}`, RULES, 1)))
  const concurrentPerSec = (batches * 200) / ((performance.now() - start) / 1000)
  const cpu = await cpuFigures(redis, limiter)
  const keys = await redis.keys(`infergate-bench:${process.pid}:*`)
  if (keys.length > 0) await redis.del(...keys)
  redis.disconnect()
  return { sequentialUs, concurrentPerSec, roundTripsPerCheck, cpu }
}

const cpuPair = (cpu: CallCpu) => `${cpu.clientUs.toFixed(1)} µs / ${cpu.serverUs.toFixed(1)} µs`

export async function runMicro(options: MicroOptions): Promise<ScenarioReport> {
  const verification = await verificationNs()
  options.log(`  key verification (cached): ${verification.cached.toFixed(0)} ns`)
  const memory = new MemoryLimiter({ clock: systemClock })
  const subjects = Array.from({ length: 1000 }, (_, i) => `key:${i}`)
  const memoryNs = timeSync((i) => memory.consume(subjects[i % 1000]!, RULES, 1))
  options.log(`  memory limiter check: ${memoryNs.toFixed(0)} ns`)
  const redis = await redisFigures(options.redisUrl)
  const rows: (string | number)[][] = [
    [
      'key verification, cached (parse + checksum + SHA-256 + LRU)',
      `${(verification.cached / 1000).toFixed(2)} µs`,
      '< 2 µs',
      verification.cached < 2000 ? 'yes' : 'NO',
    ],
    ['key verification, malformed key (refused before hashing)', `${(verification.malformed / 1000).toFixed(2)} µs`, '', ''],
    ['in-memory limiter check (1 limit, 1000 keys)', `${(memoryNs / 1000).toFixed(2)} µs`, '< 1 µs', memoryNs < 1000 ? 'yes' : 'NO'],
  ]
  if (typeof redis === 'string') rows.push(['Redis limiter', `skipped: ${redis}`, '', ''])
  else {
    rows.push(['Redis limiter, sequential check (one EVALSHA)', `${redis.sequentialUs.toFixed(0)} µs`, '', ''])
    rows.push([
      'Redis requests (EVALSHA) per check',
      redis.roundTripsPerCheck.toFixed(2),
      '1 round trip',
      redis.roundTripsPerCheck <= 1.01 ? 'yes' : 'NO',
    ])
    rows.push(['Redis limiter, 200 concurrent checks', `${fmt.int(redis.concurrentPerSec)} checks/s`, '', ''])
    const { check, incr } = redis.cpu
    rows.push(['Redis limiter check, 32 in flight: CPU in this process (ioredis) / in Redis', cpuPair(check), '', ''])
    rows.push(['a bare INCR, 32 in flight (the floor of any one command): in this process / in Redis', cpuPair(incr), '', ''])
  }
  return {
    id: 'micro',
    title: 'Building blocks: key verification and limiter checks',
    markdown: `${markdownTable(['what', 'measured (median of 7)', 'target', 'met'], rows)}\n\n- Redis at ${options.redisUrl}, on this machine.`,
    data: { verification, memoryNs, redis },
  }
}
