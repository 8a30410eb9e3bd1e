import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { buildTestApp } from '../helper.js'

let app: FastifyInstance
before(async () => {
  app = await buildTestApp()
})
after(() => app.close())

test('/health answers without a key', async () => {
  const response = await app.inject({ method: 'GET', url: '/health' })
  assert.equal(response.statusCode, 200)
  assert.deepEqual(response.json(), { status: 'ok' })
  assert.ok(response.headers['x-request-id'])
})

test('/ready reports the model and the store', async () => {
  const response = await app.inject({ method: 'GET', url: '/ready' })
  assert.equal(response.statusCode, 200, response.body)
  assert.deepEqual(response.json(), { status: 'ready', checks: { database: 'ok', models: 'ok' }, upstreams: {} })
})

test('/ready answers 503 when the store is gone', async () => {
  const broken = await buildTestApp()
  await broken.services.db.close()
  const response = await broken.inject({ method: 'GET', url: '/ready' })
  assert.equal(response.statusCode, 503)
  const body = response.json()
  assert.equal(body.code, 'not_ready')
  assert.equal(body.checks.database, 'failing')
  assert.equal(body.request_id, response.headers['x-request-id'])
})

test('/openapi.json documents /predict with the API-key security schemes', async () => {
  const response = await app.inject({ method: 'GET', url: '/openapi.json' })
  assert.equal(response.statusCode, 200)
  const doc = response.json()
  assert.equal(doc.openapi, '3.1.0')
  assert.deepEqual(doc.components.securitySchemes.ApiKeyHeader, { type: 'apiKey', in: 'header', name: 'X-API-Key' })
  assert.equal(doc.components.securitySchemes.BearerAuth.scheme, 'bearer')
  const predict = doc.paths['/predict'].post
  assert.deepEqual(predict.security, [{ ApiKeyHeader: [] }, { BearerAuth: [] }])
  assert.ok(predict.responses['200'])
  assert.ok(predict.responses['422'])
  assert.equal(doc.paths['/health'].get.security, undefined)
})

test('/docs serves the interactive page without a key', async () => {
  const page = await app.inject({ method: 'GET', url: '/docs' })
  assert.ok([200, 302].includes(page.statusCode), String(page.statusCode))
  const html = await app.inject({ method: 'GET', url: '/docs/' })
  assert.equal(html.statusCode, 200)
  assert.match(html.body, /swagger-ui/i)
  const init = await app.inject({ method: 'GET', url: '/docs/json' })
  assert.equal(init.statusCode, 200)
})

test('unknown routes get a JSON 404 with the error shape', async () => {
  const response = await app.inject({ method: 'GET', url: '/nope?x=1' })
  assert.equal(response.statusCode, 404)
  const body = response.json()
  assert.equal(body.code, 'not_found')
  assert.equal(body.detail, 'Not Found: GET /nope')
  assert.equal(body.request_id, response.headers['x-request-id'])
})

test('a wrong method on a known path is 405 with Allow, as FastAPI answers, before any key is asked for', async () => {
  const cases: [string, string, string][] = [
    ['GET', '/predict?text=hi', 'POST'],
    ['PUT', '/predict', 'POST'],
    ['POST', '/health', 'GET, HEAD'],
    ['PUT', '/v1/keys/key_0123456789abcdef', 'GET, HEAD, PATCH, DELETE'],
    ['GET', '/v1/keys/key_0123456789abcdef/rotate', 'POST'],
    ['DELETE', '/v1/models/sentiment/predict', 'POST'],
  ]
  for (const [method, url, allow] of cases) {
    const response = await app.inject({ method: method as 'GET', url })
    assert.equal(response.statusCode, 405, `${method} ${url}: ${response.body}`)
    assert.equal(response.headers.allow, allow)
    const body = response.json()
    assert.deepEqual(body, { detail: 'Method Not Allowed', code: 'method_not_allowed', request_id: response.headers['x-request-id'] })
  }
  const head = await app.inject({ method: 'HEAD', url: '/predict' })
  assert.equal(head.statusCode, 405)
  assert.equal(head.headers.allow, 'POST')
})

test('a path with no route for any method stays 404', async () => {
  for (const [method, url] of [
    ['POST', '/predict/'],
    ['GET', '/v1/keys/a/b/c'],
    ['DELETE', '/nope'],
  ]) {
    const response = await app.inject({ method: method as 'GET', url: url! })
    assert.equal(response.statusCode, 404, `${method} ${url}`)
    assert.equal(response.json().code, 'not_found')
  }
})
