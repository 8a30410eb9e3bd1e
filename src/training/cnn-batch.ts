/**
 * Per-batch scratch state of `cnn.ts`: the distinct tokens of a mini-batch with their vectors,
 * filter projections and vector gradients, and reusable buffers, so training allocates little.
 */
import type { EncodedExample } from './dataset.js'

/** Dot product of `a[ao..ao+n)` and `b[bo..bo+n)`, with four partial sums for speed. */
export function dot(a: Float32Array, ao: number, b: Float32Array, bo: number, n: number): number {
  let s0 = 0
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let i = 0
  for (; i + 4 <= n; i += 4) {
    s0 += a[ao + i]! * b[bo + i]!
    s1 += a[ao + i + 1]! * b[bo + i + 1]!
    s2 += a[ao + i + 2]! * b[bo + i + 2]!
    s3 += a[ao + i + 3]! * b[bo + i + 3]!
  }
  for (; i < n; i++) s0 += a[ao + i]! * b[bo + i]!
  return s0 + s1 + s2 + s3
}

/** Distinct tokens of a mini-batch with their vectors, projections and vector gradients. */
export interface BatchCache {
  tokens: Int32Array
  localOf: Int32Array
  vectors: Float32Array
  projections: Float32Array
  vectorGrads: Float32Array
}

/** Scratch buffers reused across batches, so training allocates almost nothing per step. */
export class Workspace {
  readonly pooled: Float32Array
  readonly argmax: Int32Array
  readonly z: Float32Array
  readonly mask: Float32Array
  readonly window: Float32Array
  private keep = new Uint8Array(256)
  private localOf = new Int32Array(0)
  private stamp = new Int32Array(0)
  private batchNo = 0
  private rowStamp = new Int32Array(0)

  constructor(channels: number) {
    this.pooled = new Float32Array(channels)
    this.argmax = new Int32Array(channels)
    this.z = new Float32Array(channels)
    this.mask = new Float32Array(channels)
    this.window = new Float32Array(channels)
  }

  prepare(batch: readonly EncodedExample[], rowsOf: readonly Int32Array[], dim: number, projSize: number): BatchCache {
    if (this.localOf.length < rowsOf.length) {
      this.localOf = new Int32Array(rowsOf.length)
      this.stamp = new Int32Array(rowsOf.length)
    }
    this.batchNo += 1
    const tokens: number[] = []
    for (const example of batch) {
      for (const id of example.tokens) {
        if (this.stamp[id] === this.batchNo) continue
        this.stamp[id] = this.batchNo
        this.localOf[id] = tokens.length
        tokens.push(id)
      }
    }
    return {
      tokens: Int32Array.from(tokens),
      localOf: this.localOf,
      vectors: new Float32Array(tokens.length * dim),
      projections: new Float32Array(tokens.length * projSize),
      vectorGrads: new Float32Array(tokens.length * dim),
    }
  }

  keepMask(length: number, wordDropout: number, random: () => number): Uint8Array {
    if (this.keep.length < length) this.keep = new Uint8Array(length * 2)
    for (let i = 0; i < length; i++) this.keep[i] = wordDropout > 0 && random() < wordDropout ? 0 : 1
    return this.keep
  }

  /** Adds each token's vector gradient to its table rows below `limit` (the rest are pretrained); returns the rows touched. */
  touchedRows(
    cache: BatchCache,
    rowsOf: readonly Int32Array[],
    subwords: boolean,
    tableGrad: Float32Array,
    dim: number,
    limit: number,
  ): number[] {
    if (this.rowStamp.length * dim < tableGrad.length) this.rowStamp = new Int32Array(tableGrad.length / dim)
    const touched: number[] = []
    cache.tokens.forEach((id, u) => {
      const rows = rowsOf[id]!
      for (let i = 0; i < (subwords ? rows.length : 1); i++) {
        const row = rows[i]!
        if (row >= limit) continue
        if (this.rowStamp[row] !== this.batchNo) {
          this.rowStamp[row] = this.batchNo
          touched.push(row)
        }
        const ro = row * dim
        for (let c = 0; c < dim; c++) tableGrad[ro + c]! += cache.vectorGrads[u * dim + c]!
      }
    })
    return touched
  }
}
