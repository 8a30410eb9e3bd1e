import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Once } from '../../src/lib/once.js'

test('listeners added before it happens run once, in order, when it happens', () => {
  const once = new Once()
  const calls: string[] = []
  once.listen(() => calls.push('a'))
  once.listen(() => calls.push('b'))
  assert.equal(once.happened, false)
  assert.deepEqual(calls, [])
  once.happen()
  once.happen()
  assert.equal(once.happened, true)
  assert.deepEqual(calls, ['a', 'b'])
})

test('a listener added after it happened runs at once, and only then', () => {
  const once = new Once()
  once.happen()
  let calls = 0
  const stop = once.listen(() => calls++)
  assert.equal(calls, 1)
  stop()
  once.happen()
  assert.equal(calls, 1)
})

test('a listener that stopped listening is not called; stopping while listeners run skips none', () => {
  const once = new Once()
  const calls: string[] = []
  const stopA = once.listen(() => calls.push('a'))
  const stopB = once.listen(() => {
    calls.push('b')
    stopB()
  })
  once.listen(() => calls.push('c'))
  stopA()
  once.happen()
  assert.deepEqual(calls, ['b', 'c'])
})

test('every listener runs even if one throws; the first failure is thrown after them', () => {
  const once = new Once()
  const calls: string[] = []
  once.listen(() => {
    calls.push('a')
    throw new Error('first')
  })
  once.listen(() => {
    calls.push('b')
    throw new Error('second')
  })
  once.listen(() => calls.push('c'))
  assert.throws(() => once.happen(), { message: 'first' })
  assert.deepEqual(calls, ['a', 'b', 'c'])
  assert.equal(once.happened, true)
})
