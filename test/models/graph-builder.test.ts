import assert from 'node:assert/strict'
import { test } from 'node:test'
import ort from 'onnxruntime-node'
import { GraphBuilder, attr, decodeModel } from '../../src/models/onnx/graph-builder.js'

/** y = relu(x · W + b) * alpha, plus an int64 row count: small enough to recompute by hand. */
function affineModel(): Uint8Array {
  const g = new GraphBuilder('affine')
  g.input('x', 'float32', ['batch', 3])
  g.initializer('W', new Float32Array([1, -2, 0.5, 4, -1, 3]), [3, 2])
  g.initializer('b', new Float32Array([0.25, -8]), [2])
  g.initializer('alpha', new Float32Array([2]), [])
  g.node('MatMul', ['x', 'W'], ['xw'])
  g.node('Add', ['xw', 'b'], ['pre'])
  g.node('Relu', ['pre'], ['act'])
  g.node('Mul', ['act', 'alpha'], ['y'])
  g.node('Shape', ['x'], ['shape'], { start: 0, end: 1 })
  g.node('LeakyRelu', ['pre'], ['leaky'], { alpha: attr.float(0.5) })
  g.output('y', 'float32', ['batch', 2])
  g.output('shape', 'int64', [1])
  g.output('leaky', 'float32', ['batch', 2])
  return g.toBytes({ opsetVersion: 17, metadata: { purpose: 'test' } })
}

test('a built graph runs in ONNX Runtime and computes what it says', async () => {
  const session = await ort.InferenceSession.create(affineModel())
  const x = [
    [1, 2, 3],
    [-1, 0.5, 2],
  ]
  const out = await session.run({ x: new ort.Tensor('float32', Float32Array.from(x.flat()), [2, 3]) })
  const W = [
    [1, -2],
    [0.5, 4],
    [-1, 3],
  ]
  const b = [0.25, -8]
  const pre = x.map((row) => [0, 1].map((j) => row.reduce((s, v, k) => s + v * W[k]![j]!, b[j]!)))
  const expected = pre.flat().map((v) => Math.max(0, v) * 2)
  assert.deepEqual(Array.from(out.y!.data as Float32Array), expected)
  assert.deepEqual(out.y!.dims, [2, 2])
  assert.deepEqual(
    Array.from(out.leaky!.data as Float32Array),
    pre.flat().map((v) => (v > 0 ? v : 0.5 * v)),
  )
  assert.deepEqual(Array.from(out.shape!.data as BigInt64Array), [2n])
  await session.release()
})

test('the model round-trips through protobuf with its names, shapes, opset and metadata', () => {
  const model = decodeModel(affineModel())
  assert.equal(model.graph?.name, 'affine')
  assert.equal(Number(model.opsetImport[0]?.version), 17)
  assert.deepEqual(
    (model.graph?.input ?? []).map((i) => i.name),
    ['x'],
  )
  const dims = model.graph?.input?.[0]?.type?.tensorType?.shape?.dim ?? []
  assert.equal(dims[0]?.dimParam, 'batch')
  assert.equal(Number(dims[1]?.dimValue), 3)
  assert.deepEqual(
    (model.graph?.initializer ?? []).map((t) => t.name),
    ['W', 'b', 'alpha'],
  )
  assert.deepEqual(
    model.metadataProps.map((p) => [p.key, p.value]),
    [['purpose', 'test']],
  )
})

test('int64, int8 and float16 initializers; symbolic dims; Gather over a table', async () => {
  const g = new GraphBuilder('lookup')
  g.input('ids', 'int64', ['batch', 'seq'])
  g.initializer('table_int8', new Int8Array([0, 0, 10, -20, 127, -128]), [3, 2])
  g.initializer('half', new Uint16Array([0x3c00, 0x4000]), [2], 'float16') // 1.0, 2.0
  g.initializer('offset', new BigInt64Array([1n]), [])
  g.node('Cast', ['table_int8'], ['table_f'], { to: 1 })
  g.node('Cast', ['half'], ['half_f'], { to: 1 })
  g.node('Mul', ['table_f', 'half_f'], ['table'])
  g.node('Add', ['ids', 'offset'], ['shifted'])
  g.node('Gather', ['table', 'shifted'], ['vectors'], { axis: 0 })
  g.output('vectors', 'float32', ['batch', 'seq', 2])
  const session = await ort.InferenceSession.create(g.toBytes())
  const out = await session.run({ ids: new ort.Tensor('int64', new BigInt64Array([1n, 0n, -1n]), [1, 3]) })
  assert.deepEqual(Array.from(out.vectors!.data as Float32Array), [127, -256, 10, -40, 0, 0])
  assert.deepEqual(out.vectors!.dims, [1, 3, 2])
  await session.release()
})

test('mistakes are caught while building', () => {
  const g = new GraphBuilder('bad')
  g.input('x', 'float32', [1])
  assert.throws(() => g.input('x', 'float32', [1]), /defined twice/)
  assert.throws(() => g.initializer('w', new Float32Array(3), [2, 2]), /3 values for shape \[2, 2\]/)
  assert.throws(() => g.initializer('v', new Float32Array(1), [1], 'int64'), /does not match type int64/)
  assert.throws(() => g.node('LeakyRelu', ['x'], ['y'], { alpha: 0.5 }), /use attr.float/)
})
