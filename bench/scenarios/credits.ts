/**
 * What a credits check costs (issue 19): one `Meter.charge` at a time — the limiter's decision
 * and, where the key or its owner has a balance, the conditional UPDATE(s) that take the units —
 * for a key without a balance, with its own, and with its own and its owner's; on SQLite with
 * the in-memory limiter, and on PostgreSQL with the Redis limiter. Sequential on purpose: it is
 * the latency a request gains, not a throughput.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp } from '../../src/app.js'
import { PROJECT_ROOT, testConfig } from '../../src/config.js'
import { loadBuiltinModel } from '../../src/models/builtin/load.js'
import type { Principal } from '../../src/keys/types.js'
import { freshPostgres, postgresReachable } from '../../test/postgres.js'
import { median } from '../lib/load.js'
import type { ScenarioReport } from '../lib/report.js'
import { markdownTable } from '../lib/report.js'

export interface CreditsOptions {
  redisUrl: string
  log: (line: string) => void
}

const CHARGES = 2000
const ROUNDS = 5
const BALANCE = { remaining: 1e12, refill: null }

async function principalOf(app: FastifyInstance, credits: boolean, owner: string): Promise<Principal> {
  const created = await app.services.keys.create({ name: 'bench', scopes: ['predict'], owner, ...(credits && { credits: BALANCE }) })
  const verified = await app.services.keys.verify(created.key)
  if (!verified.ok) throw new Error('the bench key was refused')
  return verified.principal
}

/** Median µs per charge over ROUNDS loops of CHARGES sequential charges. */
async function chargeUs(app: FastifyInstance, principal: Principal): Promise<number> {
  const samples: number[] = []
  for (let round = -1; round < ROUNDS; round++) {
    const start = process.hrtime.bigint()
    for (let i = 0; i < CHARGES; i++) await app.services.meter.charge(principal, 1)
    if (round >= 0) samples.push(Number(process.hrtime.bigint() - start) / 1000 / CHARGES)
  }
  return median(samples)
}

async function measureStore(name: string, config: Parameters<typeof testConfig>[0]): Promise<string[]> {
  const model = await loadBuiltinModel(path.join(PROJECT_ROOT, 'models', 'sentiment'))
  const app = await buildApp(testConfig({ logLevel: 'silent', defaultLimits: [], ...config }), { models: [model] })
  try {
    const plain = await principalOf(app, false, 'bench-plain')
    const own = await principalOf(app, true, 'bench-own')
    await app.services.keys.setOwnerCredits('bench-both', BALANCE)
    const both = await principalOf(app, true, 'bench-both')
    const figures = [await chargeUs(app, plain), await chargeUs(app, own), await chargeUs(app, both)]
    return [name, ...figures.map((us) => us.toFixed(1))]
  } finally {
    await app.close()
    await model.close()
  }
}

export async function runCredits(options: CreditsOptions): Promise<ScenarioReport> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'infergate-bench-credits-'))
  const rows: string[][] = []
  try {
    rows.push(await measureStore('SQLite, in-memory limits', { dataDir }))
    options.log(`  ${rows.at(-1)!.join(' | ')}`)
    if (await postgresReachable()) {
      rows.push(await measureStore('PostgreSQL, Redis limits', { dataDir, databaseUrl: await freshPostgres(), redisUrl: options.redisUrl }))
      options.log(`  ${rows.at(-1)!.join(' | ')}`)
    } else rows.push(['PostgreSQL, Redis limits', 'no PostgreSQL', '', ''])
  } finally {
    fs.rmSync(dataDir, { recursive: true, force: true })
  }
  const table = markdownTable(['store', 'no balance (µs)', 'key balance (µs)', 'key + owner balances (µs)'], rows)
  return {
    id: 'credits',
    title: 'What a credits check costs, per charge',
    markdown: `${table}\n\n- Median of ${ROUNDS} loops of ${CHARGES} sequential \`Meter.charge\` calls (limiter decision plus, with a balance, the conditional UPDATE that takes the unit; key and owner in one transaction). A key without a balance makes no database round trip.`,
    data: { rows },
  }
}
