/**
 * IEEE 754 half precision (float16) to and from numbers: the built-in model's float16 tables
 * (written by `builtin/graph.ts`, read by `builtin/weights.ts`) and float16 logits of Hugging
 * Face exports (`hf/tensor-types.ts`).
 */

/** IEEE 754 half-precision bits of `value`, rounded to nearest even. */
export function toFloat16(value: number): number {
  const bits = new Uint32Array(new Float32Array([value]).buffer)[0]!
  const sign = (bits >>> 16) & 0x8000
  const exponent = ((bits >>> 23) & 0xff) - 127 + 15
  const mantissa = bits & 0x7fffff
  if (exponent <= 0) {
    if (exponent < -10) return sign
    const m = (mantissa | 0x800000) >>> (1 - exponent)
    return sign | ((m + 0xfff + ((m >>> 13) & 1)) >>> 13)
  }
  if (exponent >= 31) return sign | 0x7c00
  const rounded = (mantissa + 0xfff + ((mantissa >>> 13) & 1)) >>> 13
  return rounded === 0x400 ? sign | ((exponent + 1) << 10) : sign | (exponent << 10) | rounded
}

/** The value of IEEE 754 half-precision bits. */
export function fromFloat16(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1
  const exponent = (bits >> 10) & 0x1f
  const mantissa = bits & 0x3ff
  if (exponent === 0) return sign * mantissa * 2 ** -24
  if (exponent === 31) return mantissa ? NaN : sign * Infinity
  return sign * (1 + mantissa / 1024) * 2 ** (exponent - 15)
}
