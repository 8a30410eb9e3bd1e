import assert from 'node:assert/strict'
import { randomBytes } from 'node:crypto'
import { describe, test } from 'node:test'
import { secretBytes, signWebhook, verifyWebhook } from '../../src/webhooks/signature.js'

const secret = secretBytes(`whsec_${randomBytes(32).toString('base64')}`)
const body = '{"type":"key.revoked","timestamp":"2026-12-03T00:00:00.000Z","data":{"key_id":"key_1"}}'

describe('webhook signatures (Standard Webhooks)', () => {
  test('a signed body verifies; the signature is v1, base64 HMAC-SHA256 over id.timestamp.body', () => {
    const headers = signWebhook(secret, 'msg_1', 1_780_000_000, body)
    assert.match(headers['webhook-signature'], /^v1,[A-Za-z0-9+/]{43}=$/)
    assert.equal(headers['webhook-timestamp'], '1780000000')
    assert.equal(verifyWebhook(secret, headers, body, 1_780_000_000), undefined)
  })

  test('an edited body, another id, another secret or a replay outside 5 minutes is refused', () => {
    const headers = signWebhook(secret, 'msg_1', 1_780_000_000, body)
    assert.equal(verifyWebhook(secret, headers, body.replace('key_1', 'key_2'), 1_780_000_000), 'bad_signature')
    assert.equal(verifyWebhook(secret, { ...headers, 'webhook-id': 'msg_2' }, body, 1_780_000_000), 'bad_signature')
    assert.equal(verifyWebhook(secretBytes('x'.repeat(32)), headers, body, 1_780_000_000), 'bad_signature')
    assert.equal(verifyWebhook(secret, headers, body, 1_780_000_000 + 301), 'stale_timestamp')
    assert.equal(verifyWebhook(secret, { ...headers, 'webhook-timestamp': undefined }, body, 1_780_000_000), 'missing_headers')
    assert.equal(verifyWebhook(secret, { ...headers, 'webhook-timestamp': '1e9' }, body, 1_780_000_000), 'missing_headers')
  })

  test('several space-separated signatures (a secret being rotated): one match is enough', () => {
    const headers = signWebhook(secret, 'msg_1', 1_780_000_000, body)
    const both = { ...headers, 'webhook-signature': `v1,${Buffer.alloc(32).toString('base64')} ${headers['webhook-signature']}` }
    assert.equal(verifyWebhook(secret, both, body, 1_780_000_000), undefined)
  })

  test('secrets: whsec_<base64> is decoded, anything else taken as text; fewer than 24 bytes are refused', () => {
    assert.equal(secretBytes(`whsec_${Buffer.alloc(24, 7).toString('base64')}`).length, 24)
    assert.equal(secretBytes('a'.repeat(30)).length, 30)
    assert.throws(() => secretBytes('short'), /at least 24 bytes/)
    assert.throws(() => secretBytes(`whsec_${Buffer.alloc(8).toString('base64')}`), /at least 24 bytes/)
  })
})
