/**
 * What the reliability suite found and fixed, checked route by route: security headers on
 * every answer, CORS closed, router errors and unreadable requests in the documented shape,
 * and an unavailable store answered 503 instead of 500.
 */
import assert from 'node:assert/strict'
import { after, before, test } from 'node:test'
import type { FastifyInstance } from 'fastify'
import { isStoreUnavailable } from '../../src/db/unavailable.js'
import { clientErrorOf, clientErrorResponse } from '../../src/http/client-error.js'
import { toAppError } from '../../src/http/error-answer.js'
import { buildTestApp, createKey } from '../helper.js'

let app: FastifyInstance
let key: string
before(async () => {
  app = await buildTestApp()
  key = (await createKey(app)).key
})
after(() => app.close())

const SECURITY = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  'content-security-policy': "frame-ancestors 'none'",
}

test('every answer carries the security headers and no-store, and never a CORS grant', async () => {
  const answers = await Promise.all([
    app.inject({ method: 'GET', url: '/health', headers: { origin: 'https://elsewhere.example' } }),
    app.inject({ method: 'POST', url: '/predict?text=fine', headers: { 'x-api-key': key, origin: 'https://elsewhere.example' } }),
    app.inject({ method: 'POST', url: '/predict?text=fine' }),
    app.inject({ method: 'GET', url: '/nowhere' }),
    app.inject({
      method: 'OPTIONS',
      url: '/predict',
      headers: { origin: 'https://elsewhere.example', 'access-control-request-method': 'POST' },
    }),
  ])
  assert.deepEqual(
    answers.map((a) => a.statusCode),
    // The preflight from an origin not allowed: CORS is closed, so OPTIONS is a wrong method here.
    [200, 200, 401, 404, 405],
  )
  for (const answer of answers) {
    for (const [name, value] of Object.entries(SECURITY)) assert.equal(answer.headers[name], value, `${name} on ${answer.statusCode}`)
    assert.equal(answer.headers['cache-control'], 'no-store')
    assert.equal(answer.headers['access-control-allow-origin'], undefined)
  }
})

test('a path parameter over the router limit is 414 uri_too_long in the documented shape, echoing nothing', async () => {
  const response = await app.inject({ method: 'GET', url: `/v1/jobs/${'k'.repeat(300)}`, headers: { 'x-api-key': key } })
  assert.equal(response.statusCode, 414)
  assert.deepEqual(response.json(), {
    detail: 'A path parameter is too long',
    code: 'uri_too_long',
    request_id: response.headers['x-request-id'],
  })
  assert.equal(response.headers['x-content-type-options'], 'nosniff')
})

test('a job path holding a key answers 404 without echoing it', async () => {
  for (const method of ['GET', 'DELETE'] as const) {
    const response = await app.inject({ method, url: `/v1/jobs/${key}`, headers: { 'x-api-key': key } })
    assert.equal(response.statusCode, 404)
    assert.equal(response.json().detail, 'No such job')
    assert.ok(!response.body.includes(key.slice(10)))
  }
  const unknown = await app.inject({ method: 'GET', url: '/v1/jobs/job_0000000000000000', headers: { 'x-api-key': key } })
  assert.equal(unknown.json().detail, 'No job job_0000000000000000')
})

test('unreadable requests get 400, 408 or 431 with the documented shape', () => {
  assert.equal(clientErrorOf('HPE_HEADER_OVERFLOW').statusCode, 431)
  // Nearly always a long ?text=: the answer says to send it in a JSON body.
  assert.match(clientErrorOf('HPE_HEADER_OVERFLOW').detail as string, /16 KiB.*JSON body.*\{"text": "\.\.\."\}/)
  assert.equal(clientErrorOf('ERR_HTTP_REQUEST_TIMEOUT').statusCode, 408)
  assert.equal(clientErrorOf('HPE_UNEXPECTED_CONTENT_LENGTH').code, 'bad_request')
  const raw = clientErrorResponse(clientErrorOf('HPE_INVALID_CHUNK_SIZE'), 'req-1')
  const [head, body] = raw.split('\r\n\r\n')
  assert.match(head!, /^HTTP\/1\.1 400 Bad Request\r\n/)
  assert.match(head!, /\r\nContent-Length: 77\r\n/i)
  assert.match(head!, /\r\nx-frame-options: DENY\r\n/i)
  assert.deepEqual(JSON.parse(body!), { detail: 'Malformed HTTP request', code: 'bad_request', request_id: 'req-1' })
  assert.equal(Buffer.byteLength(body!), 77)
})

test('an unavailable store is 503 service_unavailable with Retry-After; other failures stay 500', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code })
  const unavailable = [
    withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED'),
    withCode('terminating connection due to administrator command', '57P01'),
    withCode('the database system is starting up', '57P03'),
    withCode('database or disk is full', 'SQLITE_FULL'),
    withCode('disk I/O error', 'SQLITE_IOERR_WRITE'),
    new Error('Connection terminated unexpectedly'),
  ]
  for (const error of unavailable) {
    assert.equal(isStoreUnavailable(error), true, error.message)
    const answer = toAppError(error)
    assert.deepEqual([answer.statusCode, answer.code, answer.headers['retry-after']], [503, 'service_unavailable', '1'])
  }
  for (const error of [
    new Error('boom'),
    withCode('syntax error', '42601'),
    withCode('UNIQUE constraint failed', 'SQLITE_CONSTRAINT_UNIQUE'),
  ]) {
    assert.equal(isStoreUnavailable(error), false, error.message)
    assert.equal(toAppError(error).statusCode, 500)
  }
})
