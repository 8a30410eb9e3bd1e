/**
 * The admin key API and owners: every endpoint's happy path, validation, scope and 404;
 * last-admin protection; disable/enable; rotation with an injected clock; owner-shared limits;
 * audit records of every change.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import type { AuditRecord } from '../../src/audit/record.js'
import { KEY_REGEX } from '../../src/keys/format.js'
import type { KeyView } from '../../src/keys/view.js'
import { ManualClock } from '../../src/lib/clock.js'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

const HOUR = 3_600_000
const T0 = Date.UTC(2026, 6, 1, 12, 0, 0)

type Created = KeyView & { key: string }
type Rotated = Created & { previous: KeyView }
interface KeyPage {
  keys: KeyView[]
  total: number
  next_offset: number | null
}
interface Owner {
  id: string
  limits: { name: string; limit: number; window: string }[] | null
  keys: KeyView[]
  usage: { since: string; requests: number; rejected: number; by_outcome: Record<string, number> }
}
interface LimitStateView {
  subject: 'key' | 'owner'
  unit: 'requests' | 'tokens'
  name: string
  limit: number
  window: string
  remaining: number
  reset_seconds: number
}

const generous = { defaultLimits: parseRules(['1000/1m']), authFailLimit: { name: 'auth', limit: 1000, windowMs: 60_000 } }

async function testApp(clock: ManualClock): Promise<{ app: FastifyInstance; admin: { key: string; id: string } }> {
  const app = await buildTestApp({ clock, config: generous })
  const admin = await createKey(app, { name: 'root', scopes: ['admin'] })
  return { app, admin }
}

describe('admin key API', () => {
  const clock = new ManualClock(T0)
  let app: FastifyInstance
  let admin: { key: string; id: string }
  let predictOnly: { key: string; id: string }

  const call = (method: InjectOptions['method'], url: string, body?: unknown, key = admin.key) =>
    app.inject({ method, url, headers: { 'x-api-key': key }, ...(body !== undefined && { payload: body as object }) })
  const predict = (key: string) => app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key } })
  const create = async (body: Record<string, unknown>) => {
    const response = await call('POST', '/v1/keys', { name: 'k', owner: 'team-a', ...body })
    assert.equal(response.statusCode, 201, response.body)
    return response.json<Created>()
  }
  const adminRecords = async (keyId: string | null): Promise<AuditRecord[]> => {
    await app.services.audit!.flush()
    const records = await app.services.auditStore.list({ kind: 'admin' }, 1000)
    return records.filter((record) => record.keyId === keyId)
  }
  const requestOutcomes = async (keyId: string) => {
    await app.services.audit!.flush()
    return (await app.services.auditStore.list({ kind: 'request', keyId }, 1000)).map((record) => record.outcome)
  }
  const issueLocs = (body: string) =>
    (JSON.parse(body) as { detail: { loc: (string | number)[] }[] }).detail.map((issue) => issue.loc.join('.'))

  before(async () => {
    ;({ app, admin } = await testApp(clock))
    predictOnly = await createKey(app, { name: 'caller', scopes: ['predict'] })
  })
  after(() => app.close())

  describe('POST /v1/keys', () => {
    test('creates a key shown once, with its settings, usable at once, audited with the acting key', async () => {
      const response = await call('POST', '/v1/keys', {
        name: 'team-a prod',
        owner: 'team-a',
        scopes: ['predict'],
        models: ['sentiment'],
        limits: ['60/1m', 'burst=10/5s'],
        expires_in: '30d',
        metadata: { plan: 'pro', seats: 3 },
      })
      assert.equal(response.statusCode, 201, response.body)
      const created = response.json<Created>()
      assert.match(created.key, KEY_REGEX)
      assert.equal(response.headers.location, `/v1/keys/${created.id}`)
      assert.equal(created.prefix, created.key.slice(0, 10))
      assert.deepEqual(
        {
          name: created.name,
          owner: created.owner,
          scopes: created.scopes,
          models: created.models,
          status: created.status,
          enabled: created.enabled,
        },
        { name: 'team-a prod', owner: 'team-a', scopes: ['predict'], models: ['sentiment'], status: 'active', enabled: true },
      )
      assert.deepEqual(created.limits, [
        { name: 'minute', limit: 60, window: '1m' },
        { name: 'burst', limit: 10, window: '5s' },
      ])
      assert.deepEqual(created.metadata, { plan: 'pro', seats: 3 })
      assert.equal(created.expires_at, new Date(T0 + 30 * 24 * HOUR).toISOString())
      assert.equal((await predict(created.key)).statusCode, 200)

      const read = await call('GET', `/v1/keys/${created.id}`)
      assert.ok(!read.body.includes(created.key), 'the key is never shown again')
      const [record] = await adminRecords(created.id)
      assert.deepEqual([record!.action, record!.actor], ['key.create', admin.id])
      assert.ok(!JSON.stringify(record).includes(created.key))
    })

    test('defaults: predict scope, all models, server limits, no expiry, no metadata', async () => {
      const created = await create({ expires_at: new Date(T0 + HOUR).toISOString() })
      assert.deepEqual([created.scopes, created.models, created.limits, created.metadata], [['predict'], null, null, null])
      assert.equal(created.expires_at, new Date(T0 + HOUR).toISOString())
    })

    test('validation errors: 422 naming the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ name: 'x', owner: 'bad owner!' }, 'body.owner'],
        [{ name: 'x', owner: 'o'.repeat(256) }, 'body.owner'],
        [{ name: 'x' }, 'body.owner'],
        [{ name: 'x', owner: 'a', scopes: ['root'] }, 'body.scopes.0'],
        [{ name: 'x', owner: 'a', scopes: [] }, 'body.scopes'],
        [{ name: 'x', owner: 'a', limits: ['60 per minute'] }, 'body.limits'],
        [{ name: 'x', owner: 'a', limits: ['60/1m', '70/1m'] }, 'body.limits'],
        [{ name: 'x', owner: 'a', metadata: { blob: 'x'.repeat(5000) } }, 'body.metadata'],
        [{ name: 'x', owner: 'a', metadata: [1, 2] }, 'body.metadata'],
        [{ name: 'x', owner: 'a', expires_at: '2001-01-01T00:00:00Z' }, 'body.expires_at'],
        [{ name: 'x', owner: 'a', expires_at: 'tomorrow' }, 'body.expires_at'],
        [{ name: 'x', owner: 'a', expires_in: '30d', expires_at: '2030-01-01T00:00:00Z' }, 'body.expires_in'],
        [{ name: '\u0007', owner: 'a' }, 'body.name'],
        [{ name: 'x', owner: 'a', extra: 1 }, 'body.extra'],
      ]
      for (const [body, loc] of cases) {
        const response = await call('POST', '/v1/keys', body)
        assert.equal(response.statusCode, 422, `${JSON.stringify(body).slice(0, 80)}: ${response.body}`)
        assert.equal(response.json<{ code: string }>().code, 'validation_error')
        assert.ok(issueLocs(response.body).includes(loc), `${loc} in ${response.body}`)
      }
    })
  })

  test('a model the server does not serve: 422 naming it and the models it serves, on create and change', async () => {
    const created = await call('POST', '/v1/keys', { name: 'typo', owner: 'team-a', models: ['sentimnet'] })
    assert.equal(created.statusCode, 422, created.body)
    assert.deepEqual(created.json<{ detail: unknown }>().detail, [
      { loc: ['body', 'models', 0], msg: 'unknown model "sentimnet" (known: sentiment)', type: 'value_error' },
    ])
    const key = await create({ models: ['sentiment'] })
    const changed = await call('PATCH', `/v1/keys/${key.id}`, { models: ['sentiment', 'nope'] })
    assert.equal(changed.statusCode, 422, changed.body)
    assert.deepEqual(issueLocs(changed.body), ['body.models.1'])
    assert.deepEqual((await call('GET', `/v1/keys/${key.id}`)).json<KeyView>().models, ['sentiment'], 'unchanged')
  })

  test('every endpoint refuses a key without the admin scope with 403 insufficient_scope', async () => {
    const target = await create({})
    const calls: [InjectOptions['method'], string, unknown][] = [
      ['POST', '/v1/keys', { name: 'x', owner: 'a' }],
      ['GET', '/v1/keys', undefined],
      ['GET', `/v1/keys/${target.id}`, undefined],
      ['PATCH', `/v1/keys/${target.id}`, { name: 'y' }],
      ['POST', `/v1/keys/${target.id}/rotate`, { grace: '0' }],
      ['DELETE', `/v1/keys/${target.id}`, undefined],
      ['GET', '/v1/owners/team-a', undefined],
      ['PATCH', '/v1/owners/team-a', { limits: null }],
    ]
    for (const [method, url, body] of calls) {
      const response = await call(method, url, body, predictOnly.key)
      assert.equal(response.statusCode, 403, `${method} ${url}`)
      assert.equal(response.json<{ code: string }>().code, 'insufficient_scope')
    }
    assert.equal((await call('GET', `/v1/keys/${target.id}`)).json<KeyView>().name, 'k', 'nothing changed')
  })

  test('unknown key id: 404 not_found on every key endpoint', async () => {
    const calls: [InjectOptions['method'], string, unknown][] = [
      ['GET', '/v1/keys/key_doesnotexist', undefined],
      ['PATCH', '/v1/keys/key_doesnotexist', { name: 'y' }],
      ['POST', '/v1/keys/key_doesnotexist/rotate', { grace: '1h' }],
      ['DELETE', '/v1/keys/key_doesnotexist', undefined],
    ]
    for (const [method, url, body] of calls) {
      const response = await call(method, url, body)
      assert.equal(response.statusCode, 404, `${method} ${url}: ${response.body}`)
      assert.equal(response.json<{ code: string }>().code, 'not_found')
    }
  })

  describe('GET /v1/keys', () => {
    test('filters by owner, status, scope and q; pages newest first with a total', async () => {
      const made: Created[] = []
      for (const name of ['list-one', 'list-two', 'list-three']) {
        clock.advance(1000)
        made.push(await create({ name, owner: 'lister', scopes: name === 'list-two' ? ['admin', 'predict'] : ['predict'] }))
      }
      await call('PATCH', `/v1/keys/${made[0]!.id}`, { enabled: false })
      const page = (url: string) => call('GET', url).then((r) => (assert.equal(r.statusCode, 200, r.body), r.json<KeyPage>()))
      const all = await page('/v1/keys?owner=lister')
      assert.deepEqual([all.total, all.next_offset, all.keys.map((k) => k.name)], [3, null, ['list-three', 'list-two', 'list-one']])
      const first = await page('/v1/keys?owner=lister&limit=2')
      assert.deepEqual([first.total, first.next_offset, first.keys.length], [3, 2, 2])
      const second = await page('/v1/keys?owner=lister&limit=2&offset=2')
      assert.deepEqual([second.next_offset, second.keys.map((k) => k.name)], [null, ['list-one']])
      assert.deepEqual(
        (await page('/v1/keys?owner=lister&status=disabled')).keys.map((k) => k.name),
        ['list-one'],
      )
      assert.deepEqual(
        (await page('/v1/keys?owner=lister&status=active')).keys.map((k) => k.name),
        ['list-three', 'list-two'],
      )
      assert.deepEqual(
        (await page('/v1/keys?owner=lister&scope=admin')).keys.map((k) => k.name),
        ['list-two'],
      )
      assert.deepEqual(
        (await page('/v1/keys?q=LIST-TH')).keys.map((k) => k.name),
        ['list-three'],
      )
      assert.deepEqual(
        (await page(`/v1/keys?q=${made[1]!.prefix}`)).keys.map((k) => k.id),
        [made[1]!.id],
      )
    })

    test('invalid query: 422', async () => {
      for (const query of ['limit=0', 'limit=201', 'status=sleeping', 'scope=root', 'owner=a%20b', 'offset=-1', 'color=red']) {
        assert.equal((await call('GET', `/v1/keys?${query}`)).statusCode, 422, query)
      }
    })
  })

  describe('GET /v1/keys/{id}', () => {
    test('shows what is left of the key and owner limits, without charging for it', async () => {
      const created = await create({ owner: 'peeker', limits: ['5/1m'] })
      await call('PATCH', '/v1/owners/peeker', { limits: ['8/1h'] })
      await predict(created.key)
      await predict(created.key)
      for (let i = 0; i < 3; i++) {
        const response = await call('GET', `/v1/keys/${created.id}`)
        assert.equal(response.statusCode, 200, response.body)
        const states = response.json<KeyView & { limit_state: LimitStateView[] }>().limit_state
        assert.deepEqual(
          states.map(({ reset_seconds: _reset, ...state }) => state),
          [
            { subject: 'key', unit: 'requests', name: 'minute', limit: 5, window: '1m', remaining: 3 },
            { subject: 'owner', unit: 'requests', name: 'hour', limit: 8, window: '1h', remaining: 6 },
          ],
        )
        assert.ok(states.every((state) => state.reset_seconds > 0))
      }
    })

    test('a key without limits of its own shows the server defaults', async () => {
      const created = await create({ owner: 'plain-owner' })
      const states = (await call('GET', `/v1/keys/${created.id}`)).json<{ limit_state: LimitStateView[] }>().limit_state
      assert.deepEqual(
        states.map((s) => [s.subject, s.limit, s.window, s.remaining]),
        [['key', 1000, '1m', 1000]],
      )
    })
  })

  describe('PATCH /v1/keys/{id}', () => {
    test('changes name, scopes, models, limits, expiry and metadata; audited as key.update', async () => {
      const created = await create({ expires_in: '1d' })
      const response = await call('PATCH', `/v1/keys/${created.id}`, {
        name: 'renamed',
        scopes: ['predict', 'admin'],
        models: null,
        limits: ['day=100/1d'],
        expires_at: null,
        metadata: { tier: 2 },
      })
      assert.equal(response.statusCode, 200, response.body)
      const updated = response.json<KeyView>()
      assert.deepEqual(
        [updated.name, updated.scopes, updated.models, updated.limits, updated.expires_at, updated.metadata],
        ['renamed', ['admin', 'predict'], null, [{ name: 'day', limit: 100, window: '1d' }], null, { tier: 2 }],
      )
      const records = await adminRecords(created.id)
      assert.deepEqual(
        records.map((r) => [r.action, r.actor]),
        [
          ['key.create', admin.id],
          ['key.update', admin.id],
        ],
      )
      assert.equal(JSON.parse(records[1]!.detail!).name, 'renamed')
    })

    test('validation: empty body, unknown scope, malformed limit, oversized metadata', async () => {
      const created = await create({})
      const cases: [unknown, string | null][] = [
        [{}, null],
        [{ scopes: ['root'] }, 'body.scopes.0'],
        [{ limits: ['sixty'] }, 'body.limits'],
        [{ limits: [] }, 'body.limits'],
        [{ metadata: { blob: 'x'.repeat(4097) } }, 'body.metadata'],
        [{ enabled: 'no' }, 'body.enabled'],
        [{ owner: 'someone-else' }, 'body.owner'],
      ]
      for (const [body, loc] of cases) {
        const response = await call('PATCH', `/v1/keys/${created.id}`, body)
        assert.equal(response.statusCode, 422, `${JSON.stringify(body)}: ${response.body}`)
        if (loc) assert.ok(issueLocs(response.body).includes(loc), `${loc} in ${response.body}`)
      }
    })

    test('set_limits changes the named limit and keeps the others; remove_limits drops one; limits still replaces all', async () => {
      const created = await create({ limits: ['60/1m', 'day=10000/1d'] })
      const patch = async (body: Record<string, unknown>) => {
        const response = await call('PATCH', `/v1/keys/${created.id}`, body)
        assert.equal(response.statusCode, 200, `${JSON.stringify(body)}: ${response.body}`)
        return response.json<KeyView>().limits
      }
      const minute600 = { name: 'minute', limit: 600, window: '1m' }
      const day = { name: 'day', limit: 10000, window: '1d' }
      assert.deepEqual(await patch({ set_limits: ['600/1m'] }), [minute600, day], '600/1m is the minute limit: changed in place')
      assert.deepEqual(await patch({ set_limits: ['burst=10/5s'] }), [minute600, day, { name: 'burst', limit: 10, window: '5s' }])
      assert.deepEqual(await patch({ remove_limits: ['burst', '1d'] }), [minute600], 'by name and by window')
      assert.deepEqual(await patch({ set_limits: ['day=5/1d'], remove_limits: ['minute'] }), [{ name: 'day', limit: 5, window: '1d' }])
      assert.deepEqual(
        await patch({ limits: ['30/1m'] }),
        [{ name: 'minute', limit: 30, window: '1m' }],
        'limits replaces the set, as before',
      )
      const records = await adminRecords(created.id)
      assert.deepEqual(
        JSON.parse(records.at(-2)!.detail!).limits,
        [{ name: 'day', limit: 5, windowMs: 86_400_000 }],
        'the audit keeps the result',
      )

      const cases: [Record<string, unknown>, string, RegExp][] = [
        [{ remove_limits: ['hour'] }, 'body.remove_limits', /no limit is named "hour": its limits are minute=30\/1m/],
        [{ remove_limits: ['minute'] }, 'body.remove_limits', /removes every limit of the key.*"limits": null/],
        [{ limits: ['60/1m'], set_limits: ['1/1s'] }, 'body.limits', /not both/],
        [{ set_limits: ['sixty'] }, 'body.set_limits', /not a limit/],
        [{ set_limits: ['1/1m', 'minute=2/1m'] }, 'body.set_limits', /two limits are named "minute"/],
        [{ set_limits: ['day=1/1d'], remove_limits: ['day'] }, 'body.remove_limits', /both set and removed/],
        [{ remove_limits: ['Day!'] }, 'body.remove_limits.0', /pattern/],
        [{ set_limits: Array.from({ length: 20 }, (_, i) => `l${i}=1/1h`) }, 'body.set_limits', /at most 20 limits/],
      ]
      for (const [body, loc, message] of cases) {
        const response = await call('PATCH', `/v1/keys/${created.id}`, body)
        assert.equal(response.statusCode, 422, `${JSON.stringify(body)}: ${response.body}`)
        assert.ok(issueLocs(response.body).includes(loc), `${loc} in ${response.body}`)
        assert.match(
          response
            .json<{ detail: { msg: string }[] }>()
            .detail.map((issue) => issue.msg)
            .join('\n'),
          message,
        )
      }
      assert.deepEqual(await patch({ name: 'still' }), [{ name: 'minute', limit: 30, window: '1m' }], 'a refused edit changed nothing')
    })

    test('set_limits on a key with the server defaults gives it its own limits', async () => {
      const created = await create({})
      const response = await call('PATCH', `/v1/keys/${created.id}`, { set_limits: ['600/1m'] })
      assert.deepEqual(response.json<KeyView>().limits, [{ name: 'minute', limit: 600, window: '1m' }])
      const removal = await call('PATCH', `/v1/keys/${(await create({})).id}`, { remove_limits: ['minute'] })
      assert.equal(removal.statusCode, 422)
      assert.match(removal.body, /there are no limits of its own/)
    })

    test('disable and enable: refused with the same 403 as an unknown key meanwhile, audited, reason kept', async () => {
      const created = await create({})
      assert.equal((await predict(created.key)).statusCode, 200)
      const disabled = await call('PATCH', `/v1/keys/${created.id}`, { enabled: false })
      assert.deepEqual([disabled.statusCode, disabled.json<KeyView>().status, disabled.json<KeyView>().enabled], [200, 'disabled', false])
      const refused = await predict(created.key)
      const unknown = await predict('igk_' + 'A'.repeat(38))
      assert.equal(refused.statusCode, 403)
      const { request_id: _a, ...refusedBody } = refused.json<Record<string, unknown>>()
      const { request_id: _b, ...unknownBody } = unknown.json<Record<string, unknown>>()
      assert.deepEqual(refusedBody, unknownBody)
      assert.deepEqual(refusedBody, { detail: 'Invalid API key', code: 'invalid_api_key' })
      const enabled = await call('PATCH', `/v1/keys/${created.id}`, { enabled: true })
      assert.deepEqual([enabled.statusCode, enabled.json<KeyView>().status], [200, 'active'])
      assert.equal((await predict(created.key)).statusCode, 200)
      assert.deepEqual(
        (await adminRecords(created.id)).map((r) => r.action),
        ['key.create', 'key.disable', 'key.enable'],
      )
      assert.deepEqual(await requestOutcomes(created.id), ['ok', 'disabled_key', 'ok'])
    })

    test('a revoked key cannot be changed: 409', async () => {
      const created = await create({})
      await call('DELETE', `/v1/keys/${created.id}`)
      const response = await call('PATCH', `/v1/keys/${created.id}`, { enabled: true })
      assert.deepEqual([response.statusCode, response.json<{ code: string }>().code], [409, 'conflict'])
    })
  })

  describe('POST /v1/keys/{id}/rotate', () => {
    test('both keys work during the grace period, the old one is refused after; settings carried over; audited', async () => {
      const old = await create({
        name: 'rotating',
        owner: 'rot-owner',
        models: ['sentiment'],
        limits: ['50/1m'],
        metadata: { env: 'prod' },
        expires_in: '30d',
      })
      const response = await call('POST', `/v1/keys/${old.id}/rotate`, { grace: '24h' })
      assert.equal(response.statusCode, 201, response.body)
      const rotated = response.json<Rotated>()
      assert.match(rotated.key, KEY_REGEX)
      assert.notEqual(rotated.key, old.key)
      assert.notEqual(rotated.id, old.id)
      for (const field of ['name', 'owner', 'scopes', 'models', 'limits', 'metadata', 'expires_at', 'enabled'] as const) {
        assert.deepEqual(rotated[field], old[field], field)
      }
      assert.deepEqual(
        [rotated.previous.id, rotated.previous.status, rotated.previous.rotated_to, rotated.previous.grace_ends_at],
        [old.id, 'rotated', rotated.id, new Date(clock.now() + 24 * HOUR).toISOString()],
      )
      assert.equal((await predict(old.key)).statusCode, 200)
      assert.equal((await predict(rotated.key)).statusCode, 200)
      clock.advance(24 * HOUR - 1)
      assert.equal((await predict(old.key)).statusCode, 200)
      clock.advance(1)
      const refused = await predict(old.key)
      assert.deepEqual([refused.statusCode, refused.json<{ code: string }>().code], [403, 'invalid_api_key'])
      assert.equal((await predict(rotated.key)).statusCode, 200)
      assert.equal((await call('GET', `/v1/keys/${old.id}`)).json<KeyView>().status, 'rotated')

      const [, rotation] = await adminRecords(old.id)
      assert.deepEqual([rotation!.action, rotation!.actor], ['key.rotate', admin.id])
      assert.equal(JSON.parse(rotation!.detail!).rotatedTo, rotated.id)
      assert.ok(!rotation!.detail!.includes(rotated.key))
      assert.deepEqual(await requestOutcomes(old.id), ['ok', 'ok', 'rotated_key'])

      const again = await call('POST', `/v1/keys/${old.id}/rotate`, { grace: '0' })
      assert.deepEqual([again.statusCode, again.json<{ code: string }>().code], [409, 'conflict'])
    })

    test('grace 0 refuses the old key at once; the default grace is 24h; more than 30d is a 422', async () => {
      const now = await create({})
      assert.equal((await call('POST', `/v1/keys/${now.id}/rotate`, { grace: '0' })).statusCode, 201)
      assert.equal((await predict(now.key)).statusCode, 403)
      const later = await create({})
      const rotated = (await call('POST', `/v1/keys/${later.id}/rotate`, {})).json<Rotated>()
      assert.equal(rotated.previous.grace_ends_at, new Date(clock.now() + 24 * HOUR).toISOString())
      for (const grace of ['31d', 'soon', '-1h']) {
        const response = await call('POST', `/v1/keys/${rotated.id}/rotate`, { grace })
        assert.equal(response.statusCode, 422, grace)
        assert.ok(issueLocs(response.body).includes('body.grace'), response.body)
      }
    })
  })

  describe('DELETE /v1/keys/{id}', () => {
    test('revokes for good, audited; revoking again changes nothing', async () => {
      const created = await create({})
      const response = await call('DELETE', `/v1/keys/${created.id}`)
      assert.equal(response.statusCode, 200, response.body)
      const revoked = response.json<KeyView>()
      assert.equal(revoked.status, 'revoked')
      assert.equal(revoked.revoked_at, new Date(clock.now()).toISOString())
      assert.equal((await predict(created.key)).statusCode, 403)
      const again = await call('DELETE', `/v1/keys/${created.id}`)
      assert.deepEqual([again.statusCode, again.json<KeyView>().revoked_at], [200, revoked.revoked_at])
      assert.deepEqual(
        (await adminRecords(created.id)).map((r) => [r.action, r.actor]),
        [
          ['key.create', admin.id],
          ['key.revoke', admin.id],
        ],
      )
    })
  })

  describe('owners', () => {
    test('GET shows the owner’s keys, shared limits and 24-hour usage; unknown owner: 404', async () => {
      const a = await create({ owner: 'acme' })
      const b = await create({ owner: 'acme' })
      await predict(a.key)
      await predict(b.key)
      await call('PATCH', `/v1/keys/${b.id}`, { enabled: false })
      await predict(b.key)
      await app.services.audit!.flush()
      const response = await call('GET', '/v1/owners/acme')
      assert.equal(response.statusCode, 200, response.body)
      const owner = response.json<Owner>()
      assert.deepEqual([owner.id, owner.limits, owner.keys.map((k) => k.id).sort()], ['acme', null, [a.id, b.id].sort()])
      assert.deepEqual([owner.usage.requests, owner.usage.rejected, owner.usage.by_outcome], [3, 1, { ok: 2, disabled_key: 1 }])
      const missing = await call('GET', '/v1/owners/nobody')
      assert.deepEqual([missing.statusCode, missing.json<{ code: string }>().code], [404, 'not_found'])
      assert.equal((await call('GET', '/v1/owners/bad%20id')).statusCode, 422)
    })

    test('PATCH sets and clears shared limits, audited as owner.update; bad limits: 422', async () => {
      const set = await call('PATCH', '/v1/owners/new-owner', { limits: ['100/1h'] })
      assert.equal(set.statusCode, 200, set.body)
      assert.deepEqual(set.json<Owner>().limits, [{ name: 'hour', limit: 100, window: '1h' }])
      assert.equal((await call('GET', '/v1/owners/new-owner')).statusCode, 200, 'an owner with limits and no keys exists')
      const cleared = await call('PATCH', '/v1/owners/new-owner', { limits: null })
      assert.equal(cleared.json<Owner>().limits, null)
      const records = (await adminRecords(null)).filter((r) => r.action === 'owner.update')
      assert.deepEqual(
        records.slice(-2).map((r) => [r.actor, (JSON.parse(r.detail!) as { owner: string }).owner]),
        [
          [admin.id, 'new-owner'],
          [admin.id, 'new-owner'],
        ],
      )
      for (const body of [{ limits: ['lots'] }, {}, { limits: [] }]) {
        assert.equal((await call('PATCH', '/v1/owners/new-owner', body)).statusCode, 422, JSON.stringify(body))
      }
    })

    test('PATCH set_limits and remove_limits edit the shared limits and keep the others; removing the last leaves none', async () => {
      const limits = async (body: Record<string, unknown>) => {
        const response = await call('PATCH', '/v1/owners/edited-owner', body)
        assert.equal(response.statusCode, 200, `${JSON.stringify(body)}: ${response.body}`)
        return response.json<Owner>().limits
      }
      assert.deepEqual(await limits({ set_limits: ['1000/1h'] }), [{ name: 'hour', limit: 1000, window: '1h' }])
      assert.deepEqual(await limits({ set_limits: ['day=20000/1d'] }), [
        { name: 'hour', limit: 1000, window: '1h' },
        { name: 'day', limit: 20000, window: '1d' },
      ])
      assert.deepEqual(await limits({ set_limits: ['500/1h'] }), [
        { name: 'hour', limit: 500, window: '1h' },
        { name: 'day', limit: 20000, window: '1d' },
      ])
      assert.deepEqual(await limits({ remove_limits: ['1h', 'day'] }), null)
      const missing = await call('PATCH', '/v1/owners/edited-owner', { remove_limits: ['day'] })
      assert.equal(missing.statusCode, 422)
      assert.ok(issueLocs(missing.body).includes('body.remove_limits'), missing.body)
    })

    test('two keys of one owner share the owner’s budget exactly', async () => {
      await call('PATCH', '/v1/owners/shared', { limits: ['5/1m'] })
      const a = await create({ owner: 'shared' })
      const b = await create({ owner: 'shared' })
      const statuses: number[] = []
      for (const key of [a.key, b.key, a.key, b.key, a.key, b.key, a.key]) statuses.push((await predict(key)).statusCode)
      assert.deepEqual(statuses, [200, 200, 200, 200, 200, 429, 429])
      const refused = await predict(b.key)
      assert.match(String(refused.headers['ratelimit-policy']), /"owner-minute";q=5;w=60/)
      assert.ok(Number(refused.headers['retry-after']) > 0)
      clock.advance(61_000)
      assert.equal((await predict(b.key)).statusCode, 200)
    })
  })

  test('the endpoints are in the OpenAPI document', async () => {
    const doc = (await app.inject({ method: 'GET', url: '/openapi.json' })).json<{ paths: Record<string, Record<string, unknown>> }>()
    assert.deepEqual(Object.keys(doc.paths['/v1/keys']!).sort(), ['get', 'post'])
    assert.deepEqual(Object.keys(doc.paths['/v1/keys/{id}']!).sort(), ['delete', 'get', 'patch'])
    assert.ok(doc.paths['/v1/keys/{id}/rotate']!.post)
    assert.deepEqual(Object.keys(doc.paths['/v1/owners/{id}']!).sort(), ['get', 'patch'])
  })
})

describe('last active admin key', () => {
  const clock = new ManualClock(T0)
  let app: FastifyInstance
  let admin: { key: string; id: string }
  const call = (method: InjectOptions['method'], url: string, body?: unknown, key = admin.key) =>
    app.inject({ method, url, headers: { 'x-api-key': key }, ...(body !== undefined && { payload: body as object }) })

  before(async () => {
    ;({ app, admin } = await testApp(clock))
  })
  after(() => app.close())

  test('cannot be revoked, disabled or lose its admin scope (409); can once another admin key exists', async () => {
    for (const [method, body] of [
      ['DELETE', undefined],
      ['PATCH', { enabled: false }],
      ['PATCH', { scopes: ['predict'] }],
    ] as const) {
      const response = await call(method, `/v1/keys/${admin.id}`, body)
      assert.deepEqual(
        [response.statusCode, response.json<{ code: string }>().code],
        [409, 'conflict'],
        `${method} ${JSON.stringify(body)}`,
      )
    }
    // Expired or disabled admin keys do not count as another one.
    await createKey(app, { name: 'old-admin', scopes: ['admin'], expiresAt: T0 + 1000 })
    clock.advance(1000)
    assert.equal((await call('DELETE', `/v1/keys/${admin.id}`)).statusCode, 409)
    const created = await call('POST', '/v1/keys', { name: 'second', owner: 'ops', scopes: ['admin'] })
    const second = created.json<Created>()
    assert.equal((await call('PATCH', `/v1/keys/${admin.id}`, { enabled: false })).statusCode, 200)
    assert.equal((await call('DELETE', `/v1/keys/${second.id}`, undefined, second.key)).statusCode, 409)
    // Rotating the last admin key is allowed: the new key is an active admin key.
    const rotated = await call('POST', `/v1/keys/${second.id}/rotate`, { grace: '0' }, second.key)
    assert.equal(rotated.statusCode, 201, rotated.body)
    assert.equal((await call('GET', '/v1/keys', undefined, rotated.json<Created>().key)).statusCode, 200)
  })
})
