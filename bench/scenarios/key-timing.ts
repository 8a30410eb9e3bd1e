/**
 * Key verification must not leak how close a guess is: the time to refuse an unknown key
 * should not depend on how many leading characters it shares with a real key. Keys are
 * looked up by their SHA-256 digest, so a near miss costs what any miss costs.
 *
 * Every key starts with `igk_`; "shared characters" counts the random characters after it
 * (0, 8 and 30 of 32), and each candidate carries a valid checksum so that it reaches the
 * lookup. Two paths are timed, interleaved round by round so that drift hits every group:
 * a store lookup (a fresh unknown key each call) and the negative cache (the same unknown
 * key again).
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { openDatabase } from '../../src/db/database.js'
import { keySharingPrefix } from '../../src/keys/format.js'
import { KeyService } from '../../src/keys/service.js'
import { systemClock } from '../../src/lib/clock.js'
import { median } from '../lib/load.js'
import type { ScenarioReport } from '../lib/report.js'
import { markdownTable } from '../lib/report.js'

export interface KeyTimingOptions {
  rounds: number
  log: (line: string) => void
}

const SHARED = [0, 8, 30] as const
const PER_ROUND = 500

/**
 * A near miss as a server receives it: a flat string read from bytes. (Built by
 * concatenation, the candidates would be V8 rope strings of different depths, and flattening
 * them would be measured instead of verification.)
 */
function asReceived(shared: number, key: string): string {
  return Buffer.from(keySharingPrefix(key, shared), 'latin1').toString('latin1')
}

/** Mean ns per call of `verify` over the keys, awaited one after another. */
async function timeCalls(keys: KeyService, candidates: string[]): Promise<number> {
  const start = process.hrtime.bigint()
  for (const candidate of candidates) {
    const result = keys.verify(candidate)
    if (result instanceof Promise) await result
  }
  return Number(process.hrtime.bigint() - start) / candidates.length
}

export async function runKeyTiming(options: KeyTimingOptions): Promise<ScenarioReport> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-key-timing-'))
  const db = await openDatabase({ dataDir })
  const samples = { lookup: new Map<number, number[]>(), cached: new Map<number, number[]>() }
  const push = (map: Map<number, number[]>, shared: number, value: number) =>
    (map.get(shared) ?? map.set(shared, []).get(shared)!).push(value)
  try {
    const setup = new KeyService({ db, clock: systemClock, defaultLimits: [] })
    const { key } = await setup.create({ name: 'timing', scopes: ['predict'] })
    for (let i = 0; i < 100; i++) await setup.create({ name: `other-${i}`, scopes: ['predict'] })
    await setup.close()
    for (let round = 0; round < options.rounds; round++) {
      for (const shared of round % 2 === 0 ? SHARED : [...SHARED].reverse()) {
        // A new service (an empty cache) per measurement, and distinct candidates: with 30
        // characters shared only a few thousand near misses exist, and a repeated one would
        // be answered from the negative cache instead of the store.
        const keys = new KeyService({ db, clock: systemClock, defaultLimits: [] })
        const fresh = new Set<string>()
        while (fresh.size < PER_ROUND) fresh.add(asReceived(shared, key))
        const repeated = asReceived(shared, key)
        await timeCalls(keys, [repeated])
        push(samples.lookup, shared, await timeCalls(keys, [...fresh]))
        push(
          samples.cached,
          shared,
          await timeCalls(
            keys,
            Array.from({ length: PER_ROUND }, () => repeated),
          ),
        )
        await keys.close()
      }
    }
  } finally {
    await db.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  const medians = Object.fromEntries(
    (['lookup', 'cached'] as const).map((path) => [
      path,
      Object.fromEntries(SHARED.map((shared) => [shared, median(samples[path].get(shared)!)])),
    ]),
  ) as Record<'lookup' | 'cached', Record<number, number>>
  const spread = (path: 'lookup' | 'cached') => {
    const values = SHARED.map((shared) => medians[path][shared]!)
    return (Math.max(...values) - Math.min(...values)) / Math.min(...values)
  }
  const rows = SHARED.map((shared) => [
    `${shared} of 32`,
    `${(medians.lookup[shared]! / 1000).toFixed(2)} µs`,
    `${(medians.cached[shared]! / 1000).toFixed(2)} µs`,
  ])
  rows.push(['spread (max − min) / min', `${(spread('lookup') * 100).toFixed(1)} %`, `${(spread('cached') * 100).toFixed(1)} %`])
  for (const row of rows) options.log(`  ${row.join('  ')}`)
  return {
    id: 'key-timing',
    title: 'Key verification time does not depend on how close a guess is',
    markdown: `${markdownTable(['random characters shared with a real key', 'unknown key, store lookup (median)', 'unknown key, negative cache (median)'], rows)}\n\n- Medians of ${options.rounds} interleaved rounds of ${PER_ROUND} verifications per group, SQLite store with 101 keys. Keys are found by their SHA-256 digest and the digest compared in constant time, so the shared prefix cannot shorten anything; differences are noise.`,
    data: { rounds: options.rounds, perRound: PER_ROUND, medians, spread: { lookup: spread('lookup'), cached: spread('cached') } },
  }
}
