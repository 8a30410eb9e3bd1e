import assert from 'node:assert/strict'
import { test } from 'node:test'
import { generateKey, visiblePrefix } from '../../src/keys/format.js'
import { createLogger, keyHeaderNames, redactKeyHeaders, scrubKeys } from '../../src/logger.js'

function capture(keyHeader?: string) {
  const lines: string[] = []
  const logger = createLogger('info', { write: (line: string) => lines.push(line) }, keyHeader)
  return { logger, lines }
}

test('any key-shaped string is scrubbed from a line, wherever it is, keeping its visible prefix', () => {
  const key = generateKey()
  const scrubbed = scrubKeys(`{"msg":"got ${key}","url":"/predict?k=${key}&x=1","glued":"key_${key}xyz"}`)
  assert.ok(!scrubbed.includes(key))
  assert.ok(!scrubbed.includes(key.slice(10)), 'the secret part is gone')
  assert.equal(scrubbed.split(`${visiblePrefix(key)}…[redacted]`).length, 4)
  assert.doesNotThrow(() => JSON.parse(scrubbed), 'the line stays valid JSON')
  assert.equal(scrubKeys('{"msg":"nothing to see"}'), '{"msg":"nothing to see"}')
  // Shape is enough: a key with a wrong checksum is still scrubbed.
  assert.ok(!scrubKeys('igk_' + 'A'.repeat(38)).includes('A'.repeat(38)))
})

test('headers that carry keys are redacted, including a custom key header', () => {
  const key = generateKey()
  const { logger, lines } = capture('X-Team-Key')
  const headers = { 'x-api-key': key, authorization: `Bearer ${key}`, 'x-team-key': 'team-secret', 'user-agent': 'curl/8' }
  logger.info({ req: { headers } }, 'incoming')
  logger.info({ headers }, 'outgoing')
  logger.info({ upstream: { headers } }, 'nested')
  logger.info(
    { headers: { 'X-Api-Key': key, Authorization: `Bearer ${key}`, 'X-Team-Key': 'team-secret', 'user-agent': 'curl/8' } },
    'any case',
  )
  assert.equal(lines.length, 4)
  for (const line of lines) {
    const entry = JSON.parse(line) as Record<string, { headers?: Record<string, string> } & Record<string, unknown>>
    const raw = (entry.req?.headers ?? entry.headers ?? entry.upstream?.headers) as unknown as Record<string, string>
    const logged = Object.fromEntries(Object.entries(raw).map(([name, value]) => [name.toLowerCase(), value]))
    assert.equal(logged['x-api-key'], '[redacted]')
    assert.equal(logged.authorization, '[redacted]')
    assert.equal(logged['x-team-key'], '[redacted]')
    assert.equal(logged['user-agent'], 'curl/8')
    assert.ok(!line.includes('team-secret'))
  }
})

test('a key in a message, an error or any field never reaches the output', () => {
  const key = generateKey()
  const { logger, lines } = capture()
  logger.info(`user pasted ${key}`)
  logger.error({ err: new Error(`cannot parse ${key}`) }, 'failed')
  logger.warn({ deep: { list: [{ token: key }] } }, 'nested')
  assert.equal(lines.length, 3)
  for (const line of lines) {
    assert.ok(!line.includes(key), line)
    assert.ok(line.includes(`${visiblePrefix(key)}…[redacted]`), line)
  }
})

test('the logged object itself is never changed, and one without key headers is not copied', () => {
  const names = keyHeaderNames('X-Team-Key')
  const headers = { 'x-team-key': 'team-secret', accept: '*/*' }
  const object = { req: { headers }, status: 200 }
  const out = redactKeyHeaders(object, names)
  assert.equal(headers['x-team-key'], 'team-secret', 'the caller’s object is untouched')
  assert.equal((out.req as { headers: Record<string, string> }).headers['x-team-key'], '[redacted]')
  const plain = { keyId: 'key_x', status: 200, headers: { accept: '*/*' } }
  assert.equal(redactKeyHeaders(plain, names), plain)
})
