/**
 * A create/cancel loop must not grow the SQLite file: a cancelled job's unprocessed rows are
 * deleted (they were blanked and kept, so every page stayed in use and each cycle added the
 * whole job to the file: 317.8 MB after 50 cycles of a 4.9 MB job, 12.9 MB now).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, builtinModel, createKey, tempDir } from '../helper.js'
import { gatedModel } from '../fixtures/gated-model.js'
import { TEST_DATABASE_URL } from '../postgres.js'
import { walSequence } from '../unit/wal-header.js'

const storeBytes = (dir: string) =>
  ['infergate.db', 'infergate.db-wal']
    .map((file) => fs.statSync(path.join(dir, file), { throwIfNoEntry: false })?.size ?? 0)
    .reduce((a, b) => a + b, 0)

test('30 create/cancel cycles of a 1 MB job: the SQLite file and its WAL stop growing after the first cycles', async (t) => {
  if (TEST_DATABASE_URL) return t.skip('the SQLite file is what is measured; skipped on the PostgreSQL pass')
  const dataDir = tempDir()
  const gate = gatedModel(await builtinModel())
  gate.holdAfter(0) // nothing is processed: every text stays queued until the cancel
  const app = await buildTestApp({ models: [gate.classifier], config: { dataDir, defaultLimits: parseRules(['100000000/1m']) } })
  try {
    const { key } = await createKey(app, { limits: parseRules(['100000000/1m']) })
    const texts = Array.from({ length: 2000 }, (_, i) => `${i} ${'lorem ipsum dolor sit amet '.repeat(19)}`)
    const jobBytes = texts.reduce((sum, text) => sum + text.length, 0)
    const fileBytes = () => fs.statSync(path.join(dataDir, 'infergate.db')).size
    let afterTen = 0
    let firstSequence = -1
    for (let cycle = 1; cycle <= 30; cycle++) {
      const created = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': key }, payload: { texts } })
      assert.equal(created.statusCode, 202, created.body)
      const cancelled = await app.inject({
        method: 'DELETE',
        url: `/v1/jobs/${created.json<{ id: string }>().id}`,
        headers: { 'x-api-key': key },
      })
      assert.equal(cancelled.statusCode, 200)
      if (cycle === 1) firstSequence = walSequence(path.join(dataDir, 'infergate.db-wal'))
      if (cycle === 10) afterTen = fileBytes()
    }
    // The bounds: the freed pages of one job are reused by the next, so the database file stops
    // growing; the WAL is checkpointed by a thread of its own once past 4 MB (checked every
    // 100 ms) and started over, where without checkpoints it would hold every cycle's writes
    // (~75 MB by the 30th).
    const grown = fileBytes() - afterTen
    assert.ok(grown < jobBytes, `cycles 11 to 30 grew the database file by ${grown} bytes (one job: ${jobBytes})`)
    assert.ok(fileBytes() < 3 * jobBytes + 1_000_000, `the database file holds ${fileBytes()} bytes`)
    assert.ok(walSequence(path.join(dataDir, 'infergate.db-wal')) > firstSequence, 'the WAL was started over')
    const logBytes = storeBytes(dataDir) - fileBytes()
    assert.ok(logBytes < 40_000_000, `the WAL file grew to ${logBytes} bytes`)
    const left = await app.services.db.kysely
      .selectFrom('job_items')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    assert.equal(Number(left.n), 0, 'no row of a cancelled job is kept')
  } finally {
    gate.open()
    await app.close()
  }
})
