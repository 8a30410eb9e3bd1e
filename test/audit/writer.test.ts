import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import type { AuditEntry } from '../../src/audit/record.js'
import { AuditStore } from '../../src/audit/store.js'
import { verifyChain } from '../../src/audit/verify.js'
import type { AuditWriterOptions } from '../../src/audit/writer.js'
import { AuditWriter } from '../../src/audit/writer.js'
import { openDatabase } from '../../src/db/database.js'
import { ManualClock } from '../../src/lib/clock.js'
import { openTestStore, requestSample } from './fixtures.js'

const quiet = { error: () => {}, warn: () => {} }
const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/** A store that records each batch; `gate` (when set) holds writes until opened. */
function fakeStore() {
  const batches: AuditEntry[][] = []
  let failures = 0
  let gate: Promise<void> | undefined
  let open = () => {}
  return {
    batches,
    failNext(times: number) {
      failures = times
    },
    close() {
      gate = new Promise((resolve) => (open = resolve))
    },
    open: () => open(),
    async append(entries: readonly AuditEntry[]) {
      await gate
      if (failures > 0) {
        failures--
        throw new Error('disk full')
      }
      batches.push([...entries])
    },
  }
}

function writer(store: AuditWriterOptions['store'], options: Partial<AuditWriterOptions> = {}) {
  return new AuditWriter({ store, clock: new ManualClock(), log: quiet, capacity: 10_000, flushMs: 60_000, ...options })
}

async function until(condition: () => boolean): Promise<void> {
  while (!condition()) await new Promise((resolve) => setTimeout(resolve, 2))
}

describe('the audit writer', () => {
  test('append only buffers; a flush writes one transaction per batch of at most 500', async () => {
    const store = fakeStore()
    const audit = writer(store)
    for (let i = 0; i < 1200; i++) audit.append(requestSample(i))
    assert.equal(store.batches.length, 0, 'append must not write on the request path')
    await audit.flush()
    assert.deepEqual(
      store.batches.map((batch) => batch.length),
      [500, 500, 200],
    )
    assert.deepEqual(
      store.batches.flat().map((entry) => entry.requestId),
      Array.from({ length: 1200 }, (_, i) => `req-${i}`),
    )
    assert.equal(audit.depth, 0)
    await audit.close()
  })

  test('a full batch is written at once, without waiting for the flush interval', async () => {
    const store = fakeStore()
    const audit = writer(store, { flushMs: 60_000 })
    for (let i = 0; i < 499; i++) audit.append(requestSample(i))
    await nextTurn()
    assert.equal(store.batches.length, 0)
    audit.append(requestSample(499))
    await nextTurn()
    await nextTurn()
    assert.deepEqual(
      store.batches.map((batch) => batch.length),
      [500],
    )
    await audit.close()
  })

  test('a lone record is written after the flush interval', async () => {
    const store = fakeStore()
    const audit = writer(store, { flushMs: 5 })
    audit.append(requestSample(1))
    await until(() => store.batches.length === 1)
    assert.equal(store.batches[0]![0]!.requestId, 'req-1')
    await audit.close()
  })

  test('while the buffer is full it has no room; refusals become one summary record in the next batch', async () => {
    const store = fakeStore()
    const clock = new ManualClock(Date.UTC(2026, 0, 1))
    const refused: number[] = []
    const audit = writer(store, { clock, capacity: 10, observer: { written: () => {}, failed: () => {}, refused: () => refused.push(1) } })
    store.close()
    for (let i = 0; i < 10; i++) {
      assert.ok(audit.hasRoom())
      audit.append(requestSample(i))
    }
    assert.equal(audit.hasRoom(), false)
    audit.refuse()
    clock.advance(1500)
    audit.refuse()
    audit.refuse()
    assert.equal(refused.length, 3)
    assert.equal(audit.depth, 10, 'refused requests take no room')
    const flushed = audit.flush()
    store.open()
    await flushed
    const [first, ...rest] = store.batches.flat()
    assert.equal(first!.kind, 'unaudited')
    assert.equal(first!.status, 503)
    assert.equal(first!.outcome, 'server_busy')
    assert.deepEqual(JSON.parse(first!.detail!), { refused: 3, from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 1) + 1500 })
    assert.equal(rest.length, 10)
    assert.ok(audit.hasRoom())
    await audit.close()
  })

  test('a batch that fails stays buffered, in order, and is written by a later flush', async () => {
    const store = fakeStore()
    let failures = 0
    const audit = writer(store, { observer: { written: () => {}, failed: () => failures++, refused: () => {} } })
    audit.refuse()
    for (let i = 0; i < 3; i++) audit.append(requestSample(i))
    store.failNext(1)
    await audit.flush()
    assert.equal(failures, 1)
    assert.equal(store.batches.length, 0)
    assert.equal(audit.depth, 3)
    audit.append(requestSample(3))
    await audit.flush()
    const written = store.batches.flat()
    assert.deepEqual(
      written.map((entry) => entry.kind),
      ['unaudited', 'request', 'request', 'request', 'request'],
    )
    assert.deepEqual(
      written.slice(1).map((entry) => entry.requestId),
      ['req-0', 'req-1', 'req-2', 'req-3'],
    )
    await audit.close()
  })

  test('close writes everything left, and says so when it cannot', async () => {
    const store = fakeStore()
    const audit = writer(store)
    for (let i = 0; i < 700; i++) audit.append(requestSample(i))
    await audit.close()
    assert.equal(store.batches.flat().length, 700)

    const failing = fakeStore()
    failing.failNext(100)
    const stuck = writer(failing)
    stuck.append(requestSample(1))
    await assert.rejects(stuck.close(), /1 audit record\(s\) could not be written/)
  })

  test('on a real store, batches from two connections take turns in one intact chain', async () => {
    const { store, db, dataDir } = await openTestStore()
    // Two connections stand for two processes (a server and the CLI). In one process they
    // must take turns: a synchronous SQLite lock wait would block the thread holding the lock.
    const other = await openDatabase({ dataDir })
    const one = writer(store)
    const two = writer(new AuditStore(other))
    for (let i = 0; i < 300; i++) {
      one.append(requestSample(i))
      two.append(requestSample(1000 + i))
    }
    await one.flush()
    await new AuditStore(other).append([requestSample(5000)])
    await two.flush()
    await one.close()
    await two.close()
    const report = await verifyChain(store)
    assert.deepEqual(report.intact && report.records, 601)
    await other.close()
    await db.close()
  })

  test('requests refused before any key is known are summarised per address, minute and outcome, once the minute is over', async () => {
    const store = fakeStore()
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12, 0, 10))
    const w = writer(store, { clock })
    const knock = (ip: string, outcome: 'missing_key' | 'invalid_key', route = '/predict') =>
      w.tally({ time: clock.now(), ip, outcome, status: outcome === 'missing_key' ? 401 : 403, route })
    for (let i = 0; i < 5; i++) knock('10.0.0.1', 'missing_key')
    knock('10.0.0.1', 'invalid_key', '/v1/jobs')
    knock('10.0.0.2', 'missing_key')
    await w.flush()
    assert.equal(store.batches.length, 0, 'nothing is written while the minute lasts')
    clock.advance(60_000)
    knock('10.0.0.2', 'missing_key') // the next minute: a summary of its own
    await w.flush()
    const written = store.batches.flat()
    assert.deepEqual(
      written.map((e) => [e.kind, e.time, e.ip, e.outcome, e.status, (JSON.parse(e.detail!) as { requests: number }).requests]),
      [
        ['unauthenticated', Date.UTC(2026, 5, 1, 12), '10.0.0.1', 'missing_key', 401, 5],
        ['unauthenticated', Date.UTC(2026, 5, 1, 12), '10.0.0.1', 'invalid_key', 403, 1],
        ['unauthenticated', Date.UTC(2026, 5, 1, 12), '10.0.0.2', 'missing_key', 401, 1],
      ],
    )
    assert.deepEqual(JSON.parse(written[1]!.detail!).routes, { '/v1/jobs': 1 })
    await w.close()
    assert.equal(store.batches.flat().length, 4, 'closing writes the minute in progress')
  })

  test('at most 10,000 addresses are told apart per minute; the rest are counted together', async () => {
    const store = fakeStore()
    const clock = new ManualClock(Date.UTC(2026, 5, 1, 12))
    const w = writer(store, { clock })
    for (let i = 0; i < 10_050; i++)
      w.tally({ time: clock.now(), ip: `2001:db8::${i.toString(16)}`, outcome: 'invalid_key', status: 403, route: null })
    await w.close()
    const written = store.batches.flat()
    assert.equal(written.length, 10_001)
    const rest = written.find((e) => e.ip === '*')!
    assert.deepEqual(JSON.parse(rest.detail!).requests, 50)
    assert.equal(JSON.parse(rest.detail!).other_addresses, true)
    assert.equal(
      written.reduce((sum, e) => sum + (JSON.parse(e.detail!) as { requests: number }).requests, 0),
      10_050,
    )
  })
})
