/**
 * The shared authentication table: every protected route is called with a missing, empty,
 * malformed, mis-checksummed, unknown, revoked and expired key, in Bearer form, under a custom
 * header name and with the wrong scope; status, body and headers must be exact.
 */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance, InjectOptions } from 'fastify'
import { generateKey } from '../../src/keys/format.js'
import type { Scope } from '../../src/keys/types.js'
import { ManualClock } from '../../src/lib/clock.js'
import { buildTestApp, createKey } from '../helper.js'

export interface ProtectedRoute {
  method: 'GET' | 'POST' | 'PATCH' | 'DELETE'
  url: string
  payload?: unknown
  /** The scope the route needs; `any`: a key with any scope will do. */
  scope: Scope | 'any'
  /** Status of a successful call with a good key. */
  okStatus: number
  /** For prediction routes: the model used, so that a key restricted to others gets 403. */
  model?: string
}

type Headers = Record<string, string>

// Each route's calls come from an address of their own, so that the failures the table makes
// on purpose stay under the per-address brute-force guard.
const addresses = new Map<ProtectedRoute, string>()

function call(app: FastifyInstance, route: ProtectedRoute, headers: Headers) {
  if (!addresses.has(route)) addresses.set(route, `198.18.0.${addresses.size + 1}`)
  const options: InjectOptions = { method: route.method, url: route.url, headers, remoteAddress: addresses.get(route)! }
  if (route.payload !== undefined) options.payload = route.payload as InjectOptions['payload']
  return app.inject(options)
}

function assertRefused(response: Awaited<ReturnType<typeof call>>, status: number, detail: string, code: string): void {
  assert.equal(response.statusCode, status, response.body)
  const body = response.json()
  assert.deepEqual(Object.keys(body).sort(), ['code', 'detail', 'request_id'])
  assert.equal(body.detail, detail)
  assert.equal(body.code, code)
  assert.equal(body.request_id, response.headers['x-request-id'])
}

const otherScope = (scope: Scope): Scope => (scope === 'admin' ? 'predict' : 'admin')

/** Runs the whole table against each route. */
export function describeAuthTable(routes: ProtectedRoute[]): void {
  describe('authentication table', () => {
    const clock = new ManualClock()
    let app: FastifyInstance
    let custom: FastifyInstance
    const keys: Record<string, string> = {}

    before(async () => {
      app = await buildTestApp({ clock })
      custom = await buildTestApp({ clock, config: { apiKeyHeader: 'X-Custom-Key' } })
      keys.good = (await createKey(app, { scopes: ['admin', 'predict'] })).key
      const revoked = await createKey(app, { scopes: ['admin', 'predict'] })
      await app.services.keys.revoke(revoked.id)
      keys.revoked = revoked.key
      keys.expired = (await createKey(app, { scopes: ['admin', 'predict'], expiresAt: clock.now() + 1000 })).key
      clock.advance(1001)
      keys.customGood = (await createKey(custom, { scopes: ['admin', 'predict'] })).key
    })
    after(async () => {
      await app.close()
      await custom.close()
    })

    for (const route of routes) {
      describe(`${route.method} ${route.url}`, () => {
        // Every route starts in a fresh window of the brute-force guard (20 failures per
        // minute per address), which the failures of the previous routes would exhaust.
        before(() => clock.advance(120_000))
        test('no key: 401 Not authenticated with WWW-Authenticate: APIKey', async () => {
          const response = await call(app, route, {})
          assertRefused(response, 401, 'Not authenticated', 'missing_api_key')
          assert.equal(response.headers['www-authenticate'], 'APIKey')
        })
        test('empty key counts as no key', async () => {
          assertRefused(await call(app, route, { 'x-api-key': '' }), 401, 'Not authenticated', 'missing_api_key')
          assertRefused(await call(app, route, { authorization: 'Bearer ' }), 401, 'Not authenticated', 'missing_api_key')
        })
        test('malformed, bad checksum, unknown, revoked and expired keys: one identical 403', async () => {
          const good = keys.good!
          const badChecksum = good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A')
          const candidates = {
            malformed: 'not-a-key',
            badChecksum,
            unknown: generateKey(),
            revoked: keys.revoked!,
            expired: keys.expired!,
            huge: 'igk_' + 'a'.repeat(8000),
          }
          for (const [kind, key] of Object.entries(candidates)) {
            const response = await call(app, route, { 'x-api-key': key })
            assertRefused(response, 403, 'Invalid API key', 'invalid_api_key')
            assert.equal(response.headers['www-authenticate'], undefined, kind)
          }
        })
        test('a good key in the header or as a Bearer token is accepted', async () => {
          const viaHeader = await call(app, route, { 'x-api-key': keys.good! })
          assert.equal(viaHeader.statusCode, route.okStatus, viaHeader.body)
          const viaBearer = await call(app, route, { authorization: `Bearer ${keys.good!}` })
          assert.equal(viaBearer.statusCode, route.okStatus, viaBearer.body)
        })
        test('a bad Bearer token is refused like a bad header', async () => {
          assertRefused(await call(app, route, { authorization: `Bearer ${generateKey()}` }), 403, 'Invalid API key', 'invalid_api_key')
        })
        test('a custom header name is honoured, and the default header is then ignored', async () => {
          const ok = await call(custom, route, { 'x-custom-key': keys.customGood! })
          assert.equal(ok.statusCode, route.okStatus, ok.body)
          assertRefused(await call(custom, route, { 'x-api-key': keys.customGood! }), 401, 'Not authenticated', 'missing_api_key')
        })
        if (route.model !== undefined) {
          test('a key restricted to other models gets 403 model_forbidden', async () => {
            const { key } = await createKey(app, { scopes: ['admin', 'predict'], models: ['some-other-model'] })
            const response = await call(app, route, { 'x-api-key': key })
            assert.equal(response.statusCode, 403)
            assert.equal(response.json().code, 'model_forbidden')
          })
        }
        const scope = route.scope
        if (scope === 'any') {
          test('a key with any one scope is enough', async () => {
            for (const only of ['predict', 'admin'] as const) {
              const { key } = await createKey(app, { scopes: [only] })
              const response = await call(app, route, { 'x-api-key': key })
              assert.equal(response.statusCode, route.okStatus, `${only}: ${response.body}`)
            }
          })
        } else {
          test('a key without the route scope gets 403 insufficient_scope', async () => {
            const { key } = await createKey(app, { scopes: [otherScope(scope)] })
            const response = await call(app, route, { 'x-api-key': key })
            assert.equal(response.statusCode, 403)
            assert.equal(response.json().code, 'insufficient_scope')
          })
        }
      })
    }
  })
}
