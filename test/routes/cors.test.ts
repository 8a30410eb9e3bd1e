/** CORS: closed by default; with --cors-origin, open to exactly the named origins. */
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { loadConfig } from '../../src/config.js'
import { buildTestApp, createKey } from '../helper.js'

const ALLOWED = 'https://app.example.com'

describe('CORS closed (the default)', () => {
  let app: FastifyInstance
  before(async () => {
    app = await buildTestApp()
  })
  after(() => app.close())

  test('no Access-Control-Allow-Origin on answers or preflights, whatever the Origin', async () => {
    const { key } = await createKey(app)
    const answer = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key, origin: ALLOWED } })
    assert.equal(answer.statusCode, 200)
    assert.equal(answer.headers['access-control-allow-origin'], undefined)
    const preflight = await app.inject({
      method: 'OPTIONS',
      url: '/predict',
      headers: { origin: ALLOWED, 'access-control-request-method': 'POST' },
    })
    assert.notEqual(preflight.statusCode, 204)
    assert.equal(preflight.headers['access-control-allow-origin'], undefined)
  })
})

describe('CORS opened with --cors-origin', () => {
  let app: FastifyInstance
  before(async () => {
    app = await buildTestApp({ config: { corsOrigins: [ALLOWED] } })
  })
  after(() => app.close())

  const preflight = (origin: string) =>
    app.inject({
      method: 'OPTIONS',
      url: '/predict',
      headers: { origin, 'access-control-request-method': 'POST', 'access-control-request-headers': 'x-api-key,content-type' },
    })

  test('a preflight from the allowed origin is answered without a key, naming the key header', async () => {
    const response = await preflight(ALLOWED)
    assert.equal(response.statusCode, 204)
    assert.equal(response.headers['access-control-allow-origin'], ALLOWED)
    assert.match(String(response.headers['access-control-allow-headers']), /X-API-Key/i)
    assert.match(String(response.headers['access-control-allow-methods']), /POST/)
    assert.equal(response.headers['access-control-allow-credentials'], undefined)
  })

  test('another origin gets no grant, on preflights and on answers', async () => {
    const refused = await preflight('https://evil.example.com')
    assert.equal(refused.headers['access-control-allow-origin'], undefined)
    const { key } = await createKey(app)
    const answer = await app.inject({
      method: 'POST',
      url: '/predict?text=fine',
      headers: { 'x-api-key': key, origin: 'https://evil.example.com' },
    })
    assert.equal(answer.statusCode, 200)
    assert.equal(answer.headers['access-control-allow-origin'], undefined)
  })

  test('answers to the allowed origin, errors included, carry the grant and expose the rate-limit headers', async () => {
    const { key } = await createKey(app)
    const ok = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key, origin: ALLOWED } })
    assert.equal(ok.statusCode, 200)
    assert.equal(ok.headers['access-control-allow-origin'], ALLOWED)
    assert.match(String(ok.headers['access-control-expose-headers']), /RateLimit-Policy/)
    const refused = await app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': 'igk_nope', origin: ALLOWED } })
    assert.equal(refused.statusCode, 403)
    assert.equal(refused.headers['access-control-allow-origin'], ALLOWED)
    assert.equal(refused.json().code, 'invalid_api_key')
  })
})

describe('--cors-origin validation', () => {
  test('exact origins only: a path, a wildcard or a bare host stop the start naming the setting', () => {
    assert.deepEqual(loadConfig({ corsOrigins: 'https://a.example.com, http://localhost:5173' }, {}).corsOrigins, [
      'https://a.example.com',
      'http://localhost:5173',
    ])
    for (const bad of ['https://a.example.com/', 'https://a.example.com/app', '*', 'a.example.com', 'ftp://a.example.com']) {
      assert.throws(() => loadConfig({ corsOrigins: bad }, {}), /cors-origin/, bad)
    }
  })
})
