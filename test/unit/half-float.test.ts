/** Half-precision logits are widened exactly: checked against every representable kind of value. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { fromFloat16 as halfToFloat } from '../../src/lib/float16.js'

test('half-precision bits decode to the values IEEE 754 defines', () => {
  const cases: [number, number][] = [
    [0x0000, 0],
    [0x3c00, 1],
    [0xc000, -2],
    [0x3555, 0.333251953125],
    [0x7bff, 65504], // largest finite
    [0x0400, 2 ** -14], // smallest normal
    [0x0001, 2 ** -24], // smallest subnormal
    [0x7c00, Infinity],
    [0xfc00, -Infinity],
  ]
  for (const [bits, value] of cases) assert.equal(halfToFloat(bits), value, bits.toString(16))
  assert.ok(Number.isNaN(halfToFloat(0x7e00)))
  assert.ok(Object.is(halfToFloat(0x8000), -0))
})
