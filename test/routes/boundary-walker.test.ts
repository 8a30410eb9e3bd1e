/**
 * The OpenAPI boundary walker: reads `/openapi.json` from the real app, then throws boundary
 * values at every field of every operation — each field alone (the rest valid), then random
 * combinations (fast-check). No answer may be a 5xx, and afterwards the state must still read
 * (keys, owners, usage, audit). An admin key with every scope sends everything.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import fc from 'fast-check'
import { parseRules } from '../../src/ratelimit/policy.js'
import { buildTestApp, createKey } from '../helper.js'

interface Operation {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  path: string
  query: string[]
  body: string[]
}

interface OpenApiOperation {
  parameters?: { in: string; name: string }[]
  requestBody?: { content: Record<string, { schema: { properties?: Record<string, unknown> } }> }
}

const LONG = 'a'.repeat(100_000)
/** Values that broke, or could break, a parser, a database column, a date or a duration. */
const BOUNDARIES: unknown[] = [
  -1,
  0,
  1,
  1.5,
  -0.5,
  1e20,
  -1e20,
  2 ** 53,
  2 ** 63,
  Number.MAX_VALUE,
  '',
  ' ',
  LONG,
  '\u0000',
  '\u0007bell',
  '\u202egnp.exe',
  'zero\u200bwidth',
  '\ud800',
  '999999999w',
  '99999999999999999999d',
  '0s',
  '-1h',
  '1e20',
  'NaN',
  '9999-12-31T23:59:59Z',
  '275760-09-13T00:00:00Z',
  '+275760-09-13T00:00:00Z',
  '0000-01-01',
  '1970-01-01',
  '999999999999999',
  '10000000/1ms',
  '1/999999999w',
  null,
  true,
  [],
  {},
  ['x'],
  ['nul\u0000inside'],
  ['\u202e', '\ud800'],
  [LONG],
  Array.from({ length: 1000 }, (_, i) => `${i}`),
  { a: LONG },
]

/** A valid body for each operation that takes one, so that one field at a time can be made bad. */
const BASE_BODIES: Record<string, Record<string, unknown>> = {
  'POST /predict': { text: 'good' },
  'POST /v1/models/{name}/predict': { text: 'good' },
  'POST /v1/jobs': { texts: ['good', 'bad'] },
  'POST /v1/keys': { name: 'walker', owner: 'team-w' },
  'PATCH /v1/keys/{id}': { name: 'walker-2' },
  'POST /v1/keys/{id}/rotate': { grace: '1h' },
  'PATCH /v1/owners/{id}': { limits: ['1000/1m'] },
}

function operations(doc: { paths: Record<string, Record<string, OpenApiOperation>> }): Operation[] {
  return Object.entries(doc.paths).flatMap(([path, methods]) =>
    Object.entries(methods).map(([method, op]) => ({
      method: method.toUpperCase() as Operation['method'],
      path,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => p.name),
      body: Object.keys(Object.values(op.requestBody?.content ?? {})[0]?.schema.properties ?? {}),
    })),
  )
}

/** A path segment for any string: a lone surrogate becomes the invalid UTF-8 it would be on the wire. */
function pathSegment(value: string): string {
  try {
    return encodeURIComponent(value)
  } catch {
    return '%ED%A0%80'
  }
}

const asQuery = (value: unknown) => (typeof value === 'string' ? value : JSON.stringify(value))

describe('the OpenAPI boundary walker', () => {
  let app: FastifyInstance
  let admin: string
  let ops: Operation[]
  let jobId = ''
  const counts = { requests: 0, serverErrors: [] as string[] }

  /** Path ids: a fresh victim key per request (so revocations and rotations keep finding one), a real job, the model. */
  async function pathFor(op: Operation): Promise<string> {
    let path = op.path.replace('{name}', 'sentiment')
    if (path.startsWith('/v1/keys/{id}')) path = path.replace('{id}', (await createKey(app, { name: 'victim', owner: 'team-v' })).id)
    if (path.startsWith('/v1/jobs/{id}')) path = path.replace('{id}', jobId)
    return path.replace('{id}', 'team-v')
  }

  async function send(
    op: Operation,
    query: Record<string, unknown>,
    body: Record<string, unknown> | undefined,
    pathValue?: string,
  ): Promise<number> {
    const url = pathValue === undefined ? await pathFor(op) : op.path.replace(/\{\w+\}/, pathSegment(pathValue))
    const search = new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, asQuery(v)]))
    const target = search.size > 0 ? `${url}?${search.toString()}` : url
    const request: InjectOptions = {
      method: op.method,
      url: target,
      headers: { 'x-api-key': admin },
      ...(body !== undefined && { payload: body }),
    }
    const response = await app.inject(request)
    counts.requests++
    if (response.statusCode >= 500)
      counts.serverErrors.push(
        `${op.method} ${target.slice(0, 200)} ${JSON.stringify(body)?.slice(0, 200)} → ${response.statusCode} ${response.body.slice(0, 200)}`,
      )
    return response.statusCode
  }

  before(async () => {
    app = await buildTestApp({
      config: { defaultLimits: parseRules(['1000000/1m']), authFailLimit: { name: 'auth', limit: 1_000_000, windowMs: 60_000 } },
    })
    admin = (await createKey(app, { name: 'root', scopes: ['admin', 'predict'], limits: parseRules(['1000000/1m']) })).key
    ops = operations((await app.inject('/openapi.json')).json())
    const job = await app.inject({ method: 'POST', url: '/v1/jobs', headers: { 'x-api-key': admin }, payload: { texts: ['fine'] } })
    jobId = job.json<{ id: string }>().id
  })
  after(() => app.close())

  test('every field of every operation, one boundary value at a time: no 5xx', async () => {
    assert.ok(ops.length >= 20, `only ${ops.length} operations in /openapi.json`)
    for (const op of ops) {
      const base = BASE_BODIES[`${op.method} ${op.path}`]
      for (const value of BOUNDARIES) {
        for (const field of op.query) await send(op, { [field]: value }, base)
        for (const field of op.body) await send(op, {}, { ...base, [field]: value })
      }
      if (base) for (const value of BOUNDARIES.filter((v) => typeof v !== 'object' || v === null)) await send(op, {}, value as never)
      if (op.path.includes('{'))
        for (const value of BOUNDARIES.filter((v): v is string => typeof v === 'string')) await send(op, {}, base, value)
    }
    assert.deepEqual(counts.serverErrors, [])
  })

  test('random combinations of boundary values across fields (fast-check): no 5xx', async () => {
    const value = fc.oneof(fc.constantFrom(...BOUNDARIES), fc.string({ unit: 'binary', maxLength: 40 }), fc.integer(), fc.double())
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(...ops),
        fc.dictionary(fc.string({ maxLength: 8 }), value, { maxKeys: 3 }),
        fc.array(value, { maxLength: 4 }),
        async (op, extra, values) => {
          const query = Object.fromEntries(op.query.map((field, i) => [field, values[i]]).filter(([, v]) => v !== undefined))
          const body =
            op.body.length > 0 || BASE_BODIES[`${op.method} ${op.path}`]
              ? {
                  ...BASE_BODIES[`${op.method} ${op.path}`],
                  ...Object.fromEntries(op.body.map((field, i) => [field, values[i]]).filter(([, v]) => v !== undefined)),
                  ...extra,
                }
              : undefined
          return (await send(op, query, body)) < 500
        },
      ),
      { numRuns: 400, seed: 20261203 },
    )
    assert.deepEqual(counts.serverErrors, [])
  })

  test('afterwards every read still answers 200: keys, owners, a key, usage, the summary, the audit log', async () => {
    const get = (url: string) => app.inject({ method: 'GET', url, headers: { 'x-api-key': admin } })
    for (const url of [
      '/v1/keys',
      '/v1/keys?limit=200&offset=0',
      '/v1/owners/team-w',
      '/v1/owners/team-v',
      '/v1/usage',
      '/v1/usage/summary',
      '/v1/audit?limit=1000',
      '/v1/jobs',
    ]) {
      const response = await get(url)
      assert.equal(response.statusCode, 200, `${url}: ${response.body.slice(0, 300)}`)
    }
    const keys = (await get('/v1/keys?limit=200')).json<{ keys: { id: string }[] }>().keys
    for (const key of keys.slice(0, 50)) assert.equal((await get(`/v1/keys/${key.id}`)).statusCode, 200)
    console.log(`# boundary walker: ${counts.requests} requests over ${ops.length} operations, ${counts.serverErrors.length} answered 5xx`)
  })
})

describe('out-of-range input that answered 500 before (issue 16)', () => {
  let app: FastifyInstance
  let admin: string
  const call = (method: 'GET' | 'POST', url: string, payload?: object) =>
    app.inject({ method, url, headers: { 'x-api-key': admin }, ...(payload && { payload }) })
  before(async () => {
    app = await buildTestApp()
    admin = (await createKey(app, { name: 'root', scopes: ['admin', 'predict'] })).key
  })
  after(() => app.close())

  test('expires_in of 999999999w: 422 naming the field, no key stored, the key list still reads', async () => {
    const before = (await call('GET', '/v1/keys')).json<{ total: number }>().total
    const response = await call('POST', '/v1/keys', { name: 'far', owner: 'team-a', expires_in: '999999999w' })
    assert.equal(response.statusCode, 422, response.body)
    assert.deepEqual(response.json<{ detail: { loc: string[] }[] }>().detail[0]!.loc, ['body', 'expires_in'])
    assert.match(response.body, /longer than 100 years/)
    const list = await call('GET', '/v1/keys')
    assert.equal(list.statusCode, 200)
    assert.equal(list.json<{ total: number }>().total, before)
    assert.equal((await call('POST', '/v1/keys', { name: 'far', owner: 'team-a', expires_at: '+275760-09-13T00:00:00Z' })).statusCode, 422)
  })

  test('offset=1e20 on the lists and far-future since/until: 422, not 500', async () => {
    for (const url of ['/v1/keys?offset=1e20', '/v1/jobs?offset=1e20', '/v1/audit?after=1e20'])
      assert.equal((await call('GET', url)).statusCode, 422, url)
    for (const url of [
      '/v1/usage/summary?until=999999999w',
      '/v1/usage/summary?since=+275760-09-13T00:00:00Z',
      '/v1/audit?until=99999-01-01',
    ])
      assert.equal((await call('GET', url)).statusCode, 422, url)
    assert.equal((await call('GET', '/v1/keys?offset=1000000000')).statusCode, 200)
  })
})

describe('key names that would deceive a reader (issue 16)', () => {
  test('bidi overrides, zero-width and other invisible characters are refused with 422; plain Unicode is kept', async () => {
    const app = await buildTestApp()
    try {
      const admin = (await createKey(app, { name: 'root', scopes: ['admin'] })).key
      const create = (name: string) =>
        app.inject({ method: 'POST', url: '/v1/keys', headers: { 'x-api-key': admin }, payload: { name, owner: 'team-a' } })
      for (const name of ['invoice\u202egnp.exe', 'ad\u200bmin', 'root\u2066', 'b\ufeffom', 'soft\u00adhyphen', 'lone\ud800'])
        assert.equal((await create(name)).statusCode, 422, JSON.stringify(name))
      const kept = await create('Équipe données — 東京')
      assert.equal(kept.statusCode, 201, kept.body)
      assert.equal(kept.json<{ name: string }>().name, 'Équipe données — 東京')
    } finally {
      await app.close()
    }
  })
})
