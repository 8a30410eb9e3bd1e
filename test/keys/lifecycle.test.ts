/** Key states on the service: disabled, rotated (in grace and after), expired, revoked; last-admin protection. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { openDatabase } from '../../src/db/database.js'
import type { Database } from '../../src/db/types.js'
import { KeyService } from '../../src/keys/service.js'
import { keyStatus } from '../../src/keys/types.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { tempDir } from '../helper.js'
import { freshPostgres, postgresReachable } from '../postgres.js'

const HOUR = 3_600_000

const withPostgres = await postgresReachable()

for (const store of ['sqlite', 'postgres'] as const)
  describe(`key lifecycle (service, ${store})`, { skip: store === 'postgres' && !withPostgres }, () => {
    const clock = new ManualClock()
    let db: Database
    let keys: KeyService
    let where: { dataDir: string; databaseUrl: string }

    before(async () => {
      where = { dataDir: tempDir(), databaseUrl: store === 'postgres' ? await freshPostgres() : '' }
      db = await openDatabase(where)
      keys = new KeyService({ db, clock, defaultLimits: [] })
    })
    after(async () => {
      await keys.close()
      await db.close()
    })

    const reason = async (key: string) => {
      const result = await keys.verify(key)
      return result.ok ? 'ok' : result.reason
    }

    test('a new key belongs to the default owner unless told otherwise, and keeps its metadata', async () => {
      const plain = await keys.create({ name: 'plain', scopes: ['predict'] })
      assert.equal(plain.record.owner, 'default')
      const owned = await keys.create({ name: 'owned', scopes: ['predict'], owner: 'team-a', metadata: { plan: 'pro' } })
      const stored = await keys.get(owned.record.id)
      assert.equal(stored?.owner, 'team-a')
      assert.deepEqual(stored?.metadata, { plan: 'pro' })
      assert.equal(stored?.disabled, false)
    })

    test('disable refuses with reason "disabled"; enable restores it', async () => {
      const { key, record } = await keys.create({ name: 'd', scopes: ['predict'] })
      assert.equal(await reason(key), 'ok')
      assert.ok((await keys.update(record.id, { disabled: true })).ok)
      assert.equal(await reason(key), 'disabled')
      assert.equal(keyStatus((await keys.get(record.id))!, clock.now()), 'disabled')
      assert.ok((await keys.update(record.id, { disabled: false })).ok)
      assert.equal(await reason(key), 'ok')
    })

    test('rotation: both keys work during grace, the old one is refused as "rotated" after; settings carried over', async () => {
      const old = await keys.create({
        name: 'r',
        scopes: ['predict'],
        owner: 'team-r',
        limits: parseRules(['7/1m']),
        models: ['sentiment'],
        metadata: { a: 1 },
      })
      const result = await keys.rotate(old.record.id, HOUR)
      assert.ok(result.ok)
      const { created, previous } = result.value
      assert.equal(previous.rotatedTo, created.record.id)
      assert.equal(previous.graceEndsAt, clock.now() + HOUR)
      for (const field of ['name', 'owner', 'scopes', 'limits', 'models', 'metadata', 'expiresAt', 'disabled'] as const) {
        assert.deepEqual(created.record[field], old.record[field], field)
      }
      assert.equal(await reason(old.key), 'ok')
      assert.equal(await reason(created.key), 'ok')
      clock.advance(HOUR)
      assert.equal(await reason(old.key), 'rotated')
      assert.equal(await reason(created.key), 'ok')
      const again = await keys.rotate(old.record.id, 0)
      assert.deepEqual(again, { ok: false, reason: 'rotated' })
    })

    test('rotation with no grace refuses the old key at once', async () => {
      const old = await keys.create({ name: 'now', scopes: ['predict'] })
      assert.ok((await keys.rotate(old.record.id, 0)).ok)
      assert.equal(await reason(old.key), 'rotated')
    })

    test('expired and revoked keep their reasons; revoked wins over everything', async () => {
      const expiring = await keys.create({ name: 'e', scopes: ['predict'], expiresAt: clock.now() + 1000 })
      clock.advance(1000)
      assert.equal(await reason(expiring.key), 'expired')
      const revoked = await keys.create({ name: 'x', scopes: ['predict'] })
      await keys.update(revoked.record.id, { disabled: true })
      assert.ok((await keys.revoke(revoked.record.id)).ok)
      assert.equal(await reason(revoked.key), 'revoked')
      assert.deepEqual(await keys.revoke(revoked.record.id), { ok: false, reason: 'revoked' })
      assert.deepEqual(await keys.update(revoked.record.id, { name: 'y' }), { ok: false, reason: 'revoked' })
    })

    test('the last active admin key can be neither revoked, disabled nor stripped of admin', async () => {
      const first = await keys.create({ name: 'admin-1', scopes: ['admin'] })
      // Other admin keys of earlier tests? None: only predict keys were made.
      assert.deepEqual(await keys.revoke(first.record.id), { ok: false, reason: 'last_admin' })
      assert.deepEqual(await keys.update(first.record.id, { disabled: true }), { ok: false, reason: 'last_admin' })
      assert.deepEqual(await keys.update(first.record.id, { scopes: ['predict'] }), { ok: false, reason: 'last_admin' })
      const second = await keys.create({ name: 'admin-2', scopes: ['admin', 'predict'] })
      assert.ok((await keys.update(first.record.id, { disabled: true })).ok)
      assert.deepEqual(await keys.revoke(second.record.id), { ok: false, reason: 'last_admin' })
      assert.ok((await keys.update(first.record.id, { disabled: false })).ok)
      assert.ok((await keys.revoke(second.record.id)).ok)
    })

    test('an expiry on the last admin key without one is refused: when it passed, no admin key would be left', async () => {
      const lasting = await keys.create({ name: 'lasting-admin', scopes: ['admin'] })
      // Admins of earlier tests may remain; make this one the only admin without an expiry.
      for (const other of await keys.listByOwner('default'))
        if (other.id !== lasting.record.id && other.scopes.includes('admin') && other.revokedAt === null && other.expiresAt === null)
          await keys.update(other.id, { disabled: true })
      const expiring = await keys.create({ name: 'expiring-admin', scopes: ['admin'], expiresAt: clock.now() + HOUR })
      assert.deepEqual(await keys.update(lasting.record.id, { expiresAt: clock.now() + HOUR }), { ok: false, reason: 'last_admin' })
      assert.deepEqual(await keys.revoke(lasting.record.id), { ok: false, reason: 'last_admin' })
      // The expiring admin itself may go: a lasting one remains.
      assert.ok((await keys.revoke(expiring.record.id)).ok)
      const second = await keys.create({ name: 'second-lasting', scopes: ['admin'] })
      assert.ok((await keys.update(lasting.record.id, { expiresAt: clock.now() + HOUR })).ok)
      assert.deepEqual(await keys.update(second.record.id, { expiresAt: clock.now() + HOUR }), { ok: false, reason: 'last_admin' })
    })

    test('admins removing every admin key at the same moment: all but one succeed, one active admin remains', async () => {
      // On PostgreSQL a second connection, as another instance would have. On SQLite the same
      // one: better-sqlite3 waits for a lock synchronously, so two connections of one thread
      // would wait for each other (across processes, BEGIN IMMEDIATE makes the other one wait).
      // Each change targets a different key, so whichever order the database picks, exactly one
      // of them must be refused. (Two changes to one key are not a race on the last admin: once
      // a key is disabled, taking its admin scope removes no active admin and is rightly allowed.)
      const otherDb = store === 'postgres' ? await openDatabase(where) : db
      const other = otherDb === db ? keys : new KeyService({ db: otherDb, clock, defaultLimits: [] })
      try {
        for (let round = 0; round < 5; round++) {
          const [a, b, c] = await Promise.all(
            ['a', 'b', 'c'].map((name) => keys.create({ name: `race-${round}-${name}`, scopes: ['admin'] })),
          )
          const racing = new Set([a!.record.id, b!.record.id, c!.record.id])
          for (const admin of (await keys.page({ scope: 'admin', status: 'active' }, 0, 1000)).keys) {
            if (!racing.has(admin.id)) assert.ok((await keys.revoke(admin.id)).ok)
          }
          const results = await Promise.all([
            keys.revoke(a!.record.id),
            other.update(b!.record.id, { disabled: true }),
            keys.update(c!.record.id, { scopes: ['predict'] }),
          ])
          assert.equal(results.filter((r) => r.ok).length, 2, JSON.stringify(results))
          assert.equal(results.filter((r) => !r.ok && r.reason === 'last_admin').length, 1)
          assert.equal((await keys.page({ scope: 'admin', status: 'active' }, 0, 1000)).keys.length, 1)
        }
      } finally {
        if (other !== keys) await other.close()
        if (otherDb !== db) await otherDb.close()
      }
    })

    test('owner limits: set, read back, and seen by verification after the change', async () => {
      const { key } = await keys.create({ name: 'o', scopes: ['predict'], owner: 'team-o' })
      const before = await keys.verify(key)
      assert.ok(before.ok && before.principal.ownerLimits === null)
      await keys.setOwnerLimits('team-o', parseRules(['5/1m']))
      assert.deepEqual((await keys.owner('team-o'))?.limits, parseRules(['5/1m']))
      const afterChange = await keys.verify(key)
      assert.ok(afterChange.ok)
      assert.deepEqual(afterChange.principal.ownerLimits, parseRules(['5/1m']))
      assert.equal(afterChange.principal.owner, 'team-o')
    })

    test('listing filters by owner, status, scope and name or prefix, newest first, with a total', async () => {
      const a = await keys.create({ name: 'Alpha One', scopes: ['predict'], owner: 'list-o' })
      clock.advance(1)
      const b = await keys.create({ name: 'beta_two', scopes: ['predict', 'admin'], owner: 'list-o' })
      clock.advance(1)
      await keys.update(a.record.id, { disabled: true })
      const all = await keys.page({ owner: 'list-o' }, 0, 10)
      assert.equal(all.total, 2)
      assert.deepEqual(
        all.keys.map((k) => k.id),
        [b.record.id, a.record.id],
      )
      assert.deepEqual(
        (await keys.page({ owner: 'list-o', status: 'disabled' }, 0, 10)).keys.map((k) => k.id),
        [a.record.id],
      )
      assert.deepEqual(
        (await keys.page({ owner: 'list-o', status: 'active' }, 0, 10)).keys.map((k) => k.id),
        [b.record.id],
      )
      assert.deepEqual(
        (await keys.page({ owner: 'list-o', scope: 'admin' }, 0, 10)).keys.map((k) => k.id),
        [b.record.id],
      )
      assert.deepEqual(
        (await keys.page({ q: 'alpha' }, 0, 10)).keys.map((k) => k.id),
        [a.record.id],
      )
      // `_` is a literal, not a LIKE wildcard.
      assert.deepEqual((await keys.page({ q: 'a_o' }, 0, 10)).total, 0)
      assert.deepEqual(
        (await keys.page({ q: 'a_t' }, 0, 10)).keys.map((k) => k.id),
        [b.record.id],
      )
      assert.deepEqual(
        (await keys.page({ q: b.record.prefix }, 0, 10)).keys.map((k) => k.id),
        [b.record.id],
      )
      const page = await keys.page({ owner: 'list-o' }, 1, 1)
      assert.deepEqual([page.total, page.keys.map((k) => k.id)], [2, [a.record.id]])
    })
  })

describe('bootstrap on an empty PostgreSQL store', () => {
  test('instances starting at once create exactly one admin key', async (t) => {
    if (!withPostgres) return t.skip('PostgreSQL not reachable; skipping')
    const where = { dataDir: tempDir(), databaseUrl: await freshPostgres() }
    const dbs = await Promise.all(Array.from({ length: 4 }, () => openDatabase(where)))
    const services = dbs.map((db) => new KeyService({ db, clock: new ManualClock(), defaultLimits: [] }))
    try {
      const created = await Promise.all(services.map((keys) => keys.bootstrapIfEmpty()))
      assert.equal(created.filter(Boolean).length, 1)
      const rows = await dbs[0]!.kysely.selectFrom('api_keys').select('name').execute()
      assert.deepEqual(
        rows.map((r) => r.name),
        ['bootstrap-admin'],
      )
    } finally {
      for (const keys of services) await keys.close()
      for (const db of dbs) await db.close()
    }
  })
})
