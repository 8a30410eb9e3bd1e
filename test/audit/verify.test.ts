import assert from 'node:assert/strict'
import { describe, test } from 'node:test'
import { GENESIS_HASH, chainHash } from '../../src/audit/chain.js'
import { canonical } from '../../src/audit/canonical.js'
import { AuditStore } from '../../src/audit/store.js'
import type { VerifyOptions, VerifyReport } from '../../src/audit/verify.js'
import { describeReport, verifyChain } from '../../src/audit/verify.js'
import { openDatabase } from '../../src/db/database.js'
import { requestSample, storeWith } from './fixtures.js'

function broken(report: VerifyReport) {
  if (report.intact) assert.fail(describeReport(report))
  return report.break
}

/** The first break as [seq, kind]. */
async function firstBreak(store: AuditStore, options: VerifyOptions = {}): Promise<[number, string]> {
  const found = broken(await verifyChain(store, options))
  return [found.seq, found.kind]
}

describe('the hash chain', () => {
  test('each record hashes its predecessor and its canonical form; the first follows 64 zeros', async () => {
    const { store, db } = await storeWith(3)
    const [first, second] = await store.list({}, 10)
    assert.equal(first!.prevHash, GENESIS_HASH)
    assert.equal(first!.hash, chainHash(GENESIS_HASH, first!))
    assert.equal(second!.prevHash, first!.hash)
    assert.match(first!.hash, /^[0-9a-f]{64}$/)
    await db.close()
  })

  test('the canonical form has a fixed field order and leaves out seq and the hashes', () => {
    const entry = requestSample(1)
    const text = canonical(entry)
    assert.ok(text.startsWith('["infergate-audit/1",'))
    assert.equal(canonical({ ...entry }), text)
    assert.notEqual(canonical({ ...entry, cost: 2 }), text)
    assert.equal(canonical({ ...entry, seq: 99, hash: 'x', prevHash: 'y' } as typeof entry), text)
  })

  test('appends continue the chain across batches and from another process', async () => {
    const { store, db, dataDir } = await storeWith(3)
    const other = await openDatabase({ dataDir })
    await new AuditStore(other).append([requestSample(4)])
    await other.close()
    await store.append([requestSample(5), requestSample(6)])
    const head = await store.head()
    assert.equal(head.seq, 6)
    assert.deepEqual(await verifyChain(store), { intact: true, records: 6, head })
    await db.close()
  })
})

describe('audit verify finds the first broken record', () => {
  test('untouched: N records, chain intact', async () => {
    const { store, db } = await storeWith(10)
    const report = await verifyChain(store, { pageSize: 3 })
    assert.equal(describeReport(report), '10 records, chain intact')
    await db.close()
  })

  test('an edited field', async () => {
    const { store, db, tamper } = await storeWith(10)
    tamper('UPDATE audit_log SET status = 500, outcome = ? WHERE seq = 5', 'error')
    assert.deepEqual(await firstBreak(store, { pageSize: 3 }), [5, 'edited'])
    await db.close()
  })

  test('an edited last record', async () => {
    const { store, db, tamper } = await storeWith(10)
    tamper('UPDATE audit_log SET key_id = ? WHERE seq = 10', 'key_someoneelse')
    assert.deepEqual(await firstBreak(store), [10, 'edited'])
    await db.close()
  })

  test('a deleted row: named at the row after the gap', async () => {
    const { store, db, tamper } = await storeWith(10)
    tamper('DELETE FROM audit_log WHERE seq = 5')
    const found = broken(await verifyChain(store))
    assert.equal(found.seq, 6)
    assert.equal(found.kind, 'deleted')
    assert.match(found.explanation, /seq 5 missing/)
    await db.close()
  })

  test('a deleted first row', async () => {
    const { store, db, tamper } = await storeWith(4)
    tamper('DELETE FROM audit_log WHERE seq = 1')
    assert.deepEqual(await firstBreak(store), [2, 'deleted'])
    await db.close()
  })

  test('deleted rows renumbered to hide the gap', async () => {
    const { store, db, tamper } = await storeWith(10)
    tamper('DELETE FROM audit_log WHERE seq IN (5, 6)')
    tamper('UPDATE audit_log SET seq = seq - 2 WHERE seq > 6')
    assert.deepEqual(await firstBreak(store), [5, 'deleted'])
    await db.close()
  })

  test('an inserted row (a copy with a changed field, rows after it renumbered)', async () => {
    const { store, db, tamper, makeRoomAt } = await storeWith(10)
    makeRoomAt(5)
    tamper(
      "INSERT INTO audit_log SELECT 5, time, kind, 'forged', key_id, key_prefix, ip, method, route, model, status, outcome, cost, latency_us, texts, chars, action, actor, detail, prev_hash, hash, tokens_in, tokens_out FROM audit_log WHERE seq = 4",
    )
    assert.deepEqual(await firstBreak(store), [5, 'inserted'])
    await db.close()
  })

  test('an inserted row forged with a correct hash after its predecessor', async () => {
    const { store, db, tamper, makeRoomAt } = await storeWith(10)
    const [fourth] = await store.list({ afterSeq: 3 }, 1)
    const forged = requestSample(99, { keyId: 'key_forged' })
    makeRoomAt(5)
    tamper(
      "INSERT INTO audit_log (seq, time, kind, request_id, key_id, ip, method, route, model, status, outcome, cost, latency_us, texts, chars, prev_hash, hash) VALUES (5, ?, 'request', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
      forged.time,
      forged.requestId,
      forged.keyId,
      forged.ip,
      forged.method,
      forged.route,
      forged.model,
      forged.status,
      forged.outcome,
      forged.cost,
      forged.latencyUs,
      forged.texts,
      forged.chars,
      fourth!.hash,
      chainHash(fourth!.hash, { ...forged, keyPrefix: null }),
    )
    assert.deepEqual(await firstBreak(store), [5, 'inserted'])
    await db.close()
  })

  test('two rows swapped', async () => {
    const { store, db, swap } = await storeWith(10)
    swap(4, 7)
    assert.deepEqual(await firstBreak(store), [4, 'reordered'])
    await db.close()
  })

  test('two neighbours swapped', async () => {
    const { store, db, swap } = await storeWith(10)
    swap(5, 6)
    assert.deepEqual(await firstBreak(store), [5, 'reordered'])
    await db.close()
  })

  test('an edit re-hashed to look consistent still breaks the link of the next row', async () => {
    const { store, db, tamper } = await storeWith(10)
    const [fifth] = await store.list({ afterSeq: 4 }, 1)
    const edited = { ...fifth!, status: 403, outcome: 'invalid_key' as const }
    tamper("UPDATE audit_log SET status = 403, outcome = 'invalid_key', hash = ? WHERE seq = 5", chainHash(fifth!.prevHash, edited))
    const found = broken(await verifyChain(store))
    assert.deepEqual([found.seq, found.kind], [6, 'deleted'])
    assert.match(found.explanation, /re-hashed/)
    await db.close()
  })

  test('a cut tail is invisible to the chain alone but caught against an anchored head', async () => {
    const { store, db, tamper } = await storeWith(10)
    const anchored = await store.head()
    tamper('DELETE FROM audit_log WHERE seq > 8')
    assert.equal((await verifyChain(store)).intact, true)
    assert.deepEqual(await firstBreak(store, { expectHead: anchored.hash }), [9, 'truncated'])
    // An older anchor that is still in the chain is fine.
    await store.append([requestSample(11)])
    assert.equal((await verifyChain(store, { expectHead: (await store.list({ afterSeq: 7 }, 1))[0]!.hash })).intact, true)
    await db.close()
  })
})
