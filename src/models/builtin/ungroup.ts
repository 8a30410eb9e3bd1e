/**
 * An ensemble of CNNs is one grouped convolution in the ONNX graph (one group per member, each
 * reading its own slice of the token vector). The SIMD loops (`simd-kernels.ts`) want a single
 * group whose channels are ordered by the taps they use; this rewrites the weights into that
 * equivalent form: each channel reads the whole token vector, with zeros outside its member's
 * slice, and channels are reordered (narrower filters first) along with their bias, floor and
 * output weights. The logits are the same up to the order of a float64 sum.
 */
import type { BuiltinWeights } from './weights.js'

/** `weights` with the convolution as one group (unchanged when it already is one). */
export function ungroupConvolution(weights: BuiltinWeights): BuiltinWeights {
  const { channels, kernel, groups, convWeight, convBias, poolFloor, cnnWeight, classes } = weights
  if (groups === 1) return weights
  const perGroup = convWeight.length / (channels * kernel)
  const inputs = perGroup * groups
  const lastTap = (c: number): number => {
    let last = -1
    for (let d = 0; d < perGroup; d++) for (let k = 0; k < kernel; k++) if (convWeight[(c * perGroup + d) * kernel + k] !== 0) last = Math.max(last, k)
    return last
  }
  const taps = Array.from({ length: channels }, (_, c) => lastTap(c))
  const order = Array.from({ length: channels }, (_, c) => c).sort((a, b) => taps[a]! - taps[b]! || a - b)
  const weight = new Float32Array(channels * inputs * kernel)
  const bias = new Float32Array(channels)
  const floor = new Float32Array(channels)
  const out = new Float32Array(cnnWeight.length)
  order.forEach((c, n) => {
    const first = Math.floor(c / (channels / groups)) * perGroup
    for (let d = 0; d < perGroup; d++) {
      for (let k = 0; k < kernel; k++) weight[(n * inputs + first + d) * kernel + k] = convWeight[(c * perGroup + d) * kernel + k]!
    }
    bias[n] = convBias[c]!
    floor[n] = poolFloor[c]!
    for (let j = 0; j < classes; j++) out[n * classes + j] = cnnWeight[c * classes + j]!
  })
  return { ...weights, convWeight: weight, convBias: bias, poolFloor: floor, cnnWeight: out, groups: 1 }
}
