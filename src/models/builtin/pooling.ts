/**
 * The built-in engine's hot loop: convolution windows summed from cached projections, then
 * max-pooled over positions. The model's shape runs on the SIMD version (`simd-kernels.ts`);
 * this one serves any other kernel, and where WebAssembly SIMD is missing.
 *
 * `arena` holds `stride` numbers per slot: for tap k, the projections on channels
 * [tapStart[k], channels) from offset tapOffset[k]. `slots` lists the text's token slots with
 * kernel - 1 padding slots (0, all zeros) on each side; window o covers slots o .. o + kernel - 1.
 * `pooled[c]` becomes max(floor[c], max over windows of bias[c] + the taps' projections).
 */

export interface PoolingLayout {
  stride: number
  tapStart: Int32Array
  tapOffset: Int32Array
  bias: Float32Array
  floor: Float32Array
}

/** Any kernel; a plain function of typed arrays (V8 optimises it better than a method reading `this`). */
export function maxPool(arena: Float32Array, slots: Int32Array, windows: number, layout: PoolingLayout, pooled: Float64Array): void {
  const { stride, tapStart, tapOffset, bias, floor } = layout
  const channels = bias.length
  for (let c = 0; c < channels; c++) pooled[c] = floor[c]!
  for (let o = 0; o < windows; o++) {
    for (let c = 0; c < channels; c++) {
      let v = bias[c]!
      for (let k = 0; k < tapStart.length; k++) {
        if (c >= tapStart[k]!) v += arena[slots[o + k]! * stride + tapOffset[k]! + c - tapStart[k]!]!
      }
      if (v > pooled[c]!) pooled[c] = v
    }
  }
}
