import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KEY_PREFIX, KEY_REGEX, KEY_SCAN_REGEX, generateKey, isWellFormedKey, randomId, visiblePrefix } from '../../src/keys/format.js'
import { digestsEqual, hashKey } from '../../src/keys/hash.js'

test('generated keys have the documented shape and a valid checksum', () => {
  for (let i = 0; i < 200; i++) {
    const key = generateKey()
    assert.equal(key.length, 42)
    assert.ok(key.startsWith(KEY_PREFIX))
    assert.match(key, KEY_REGEX)
    assert.ok(isWellFormedKey(key), key)
  }
})

test('keys are unique and use the whole base62 alphabet', () => {
  const keys = new Set(Array.from({ length: 2000 }, generateKey))
  assert.equal(keys.size, 2000)
  const chars = new Set([...keys].flatMap((key) => [...key.slice(4, 36)]))
  assert.equal(chars.size, 62)
})

test('any single-character change is caught by the checksum', () => {
  const key = generateKey()
  for (let i = KEY_PREFIX.length; i < key.length; i++) {
    const replacement = key[i] === 'a' ? 'b' : 'a'
    const typo = key.slice(0, i) + replacement + key.slice(i + 1)
    assert.equal(isWellFormedKey(typo), false, `typo at ${i} accepted`)
  }
})

test('malformed candidates are refused without a lookup', () => {
  const key = generateKey()
  for (const bad of [
    '',
    'igk_',
    key.slice(0, -1),
    key + 'a',
    key.replace('igk_', 'igx_'),
    key.replace(/.$/, '!'),
    ' ' + key.slice(1),
    'x'.repeat(10_000),
  ]) {
    assert.equal(isWellFormedKey(bad), false, bad.slice(0, 50))
  }
})

test('the visible prefix is igk_ and six characters and does not reveal the rest', () => {
  const key = generateKey()
  assert.equal(visiblePrefix(key), key.slice(0, 10))
  assert.equal(visiblePrefix(key).length, 10)
})

test('the scanner regex finds a key inside text', () => {
  const key = generateKey()
  const found = `config: token=${key}\nother`.match(KEY_SCAN_REGEX)
  assert.deepEqual(found, [key])
})

test('hashKey is hex SHA-256 and digests compare exactly', () => {
  assert.equal(hashKey('abc'), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad')
  assert.ok(digestsEqual(hashKey('a'), hashKey('a')))
  assert.equal(digestsEqual(hashKey('a'), hashKey('b')), false)
  assert.equal(digestsEqual('ab', 'abcd'), false)
})

test('record ids carry their kind and are random', () => {
  assert.match(randomId('key'), /^key_[0-9A-Za-z]{16}$/)
  assert.notEqual(randomId('key'), randomId('key'))
})
