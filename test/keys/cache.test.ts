/**
 * The key cache is dropped when another process changes a key, and kept when another
 * connection only appends audit records (the audit worker, the CLI, other instances).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AuditStore } from '../../src/audit/store.js'
import { openDatabase } from '../../src/db/database.js'
import { KeyService } from '../../src/keys/service.js'
import { KeyStore } from '../../src/keys/store.js'
import { systemClock } from '../../src/lib/clock.js'
import { requestSample } from '../audit/fixtures.js'
import { tempDir } from '../helper.js'

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('audit appends from another connection keep the cache; a revocation drops it', async () => {
  const dataDir = tempDir()
  const db = await openDatabase({ dataDir })
  const other = await openDatabase({ dataDir })
  const keys = new KeyService({ db, clock: systemClock, defaultLimits: [] })
  try {
    const { key, record } = await keys.create({ name: 'cached', scopes: ['predict'] })
    const first = await keys.verify(key)
    assert.equal(first.ok, true)
    assert.deepEqual(keys.cacheStats, { hits: 0, misses: 1 })
    await pause(300) // let the poll see the creation once

    await new AuditStore(other).append([requestSample(1), requestSample(2)])
    await pause(500) // more than two change polls
    assert.equal((await keys.verify(key)).ok, true)
    assert.deepEqual(keys.cacheStats, { hits: 1, misses: 1 }, 'audit records must not drop the key cache')

    await new KeyStore(other).revoke(record.id, Date.now())
    let result = await keys.verify(key)
    for (let waited = 0; result.ok && waited < 3000; waited += 50) {
      await pause(50)
      result = await keys.verify(key)
    }
    assert.deepEqual(result, { ok: false, reason: 'revoked', keyId: record.id })
  } finally {
    await keys.close()
    await other.close()
    await db.close()
  }
})
