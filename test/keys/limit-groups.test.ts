/**
 * A key's limit groups come from one place, the key service: the same groups for a request's
 * principal (built once per cached principal) and for a key looked up by id (the job worker,
 * the admin view), and new ones once the key's or its owner's limits change.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import { openDatabase } from '../../src/db/database.js'
import type { Database } from '../../src/db/types.js'
import { KeyService } from '../../src/keys/service.js'
import type { Principal } from '../../src/keys/types.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { tempDir } from '../helper.js'

const defaults = parseRules(['60/1m'])
const clock = new ManualClock()
let db: Database
let keys: KeyService

before(async () => {
  db = await openDatabase({ dataDir: tempDir() })
  keys = new KeyService({ db, clock, defaultLimits: defaults })
})
after(async () => {
  await keys.close()
  await db.close()
})

async function principalOf(key: string): Promise<Principal> {
  const result = await keys.verify(key)
  assert.ok(result.ok, JSON.stringify(result))
  return result.principal
}

test('a key without limits of its own is counted against the server defaults; the groups are built once per principal', async () => {
  const { key, record } = await keys.create({ name: 'plain', scopes: ['predict'], owner: 'lg-plain' })
  const principal = await principalOf(key)
  const groups = keys.limitGroups(principal)
  assert.deepEqual(groups, [{ subject: `key:${record.id}`, rules: defaults }])
  assert.equal(keys.limitGroups(principal), groups, 'the same array for the same cached principal')
  assert.equal(await principalOf(key), principal, 'verification answered from the cache')
})

test("a key's own limits replace the defaults; its owner's follow, renamed owner-…", async () => {
  const own = parseRules(['10/1m', 'day=100/1d'])
  const { key, record } = await keys.create({ name: 'own', scopes: ['predict'], owner: 'lg-team', limits: own })
  const before = keys.limitGroups(await principalOf(key))
  assert.deepEqual(before, [{ subject: `key:${record.id}`, rules: own }])

  await keys.setOwnerLimits('lg-team', parseRules(['5/1m']))
  const principal = await principalOf(key)
  const groups = keys.limitGroups(principal)
  assert.notEqual(groups, before, 'the change dropped the cached principal and its groups')
  assert.deepEqual(groups, [
    { subject: `key:${record.id}`, rules: own },
    { subject: 'owner:lg-team', rules: [{ name: 'owner-minute', limit: 5, windowMs: 60_000 }] },
  ])

  const found = await keys.getWithLimits(record.id)
  assert.ok(found)
  assert.equal(found.record.id, record.id)
  assert.deepEqual(found.principal.ownerLimits, parseRules(['5/1m']))
  assert.deepEqual(found.groups, groups, 'by id the same groups as for the principal')
})

test('by id, a key is found whatever its status; an unknown id is undefined', async () => {
  const { record } = await keys.create({ name: 'gone', scopes: ['predict'], owner: 'lg-gone' })
  assert.ok((await keys.revoke(record.id)).ok)
  const found = await keys.getWithLimits(record.id)
  assert.ok(found)
  assert.notEqual(found.record.revokedAt, null)
  assert.equal(found.principal.ownerLimits, null)
  assert.deepEqual(found.groups, [{ subject: `key:${record.id}`, rules: defaults }])
  assert.equal(await keys.getWithLimits('key_doesNotExist00'), undefined)
})
