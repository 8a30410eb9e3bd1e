/**
 * Calibration and stacking on held-out data: the final margin is `Σ_k w_k · margin_k`, where
 * `margin_k = logit_k(positive) - logit_k(negative)` of component k (the CNNs' average, the bag).
 * With one component this is temperature scaling (w = 1 / T, Guo et al. 2017); with several it
 * also chooses how much each component counts. Never fitted on the dev set.
 */

/**
 * Fits the weights minimising the mean log-loss of `σ(Σ_k w_k · margins[k][i])` against
 * `labels` (Newton's method, each step halved until the loss goes down, since a full step from
 * the start can overshoot far when margins are large; a tiny ridge keeps it well-posed on
 * separable data).
 */
export function fitStackingWeights(margins: readonly Float64Array[], labels: readonly number[]): number[] {
  const k = margins.length
  const w = new Array<number>(k).fill(1 / k)
  const ridge = 1e-4
  for (let iteration = 0; iteration < 50; iteration++) {
    const gradient = new Array<number>(k).fill(0)
    const hessian = Array.from({ length: k }, () => new Array<number>(k).fill(0))
    labels.forEach((label, i) => {
      const z = margins.reduce((s, m, c) => s + w[c]! * m[i]!, 0)
      const p = 1 / (1 + Math.exp(-z))
      for (let a = 0; a < k; a++) {
        gradient[a]! += (p - label) * margins[a]![i]!
        for (let b = 0; b < k; b++) hessian[a]![b]! += p * (1 - p) * margins[a]![i]! * margins[b]![i]!
      }
    })
    for (let a = 0; a < k; a++) {
      gradient[a]! += ridge * labels.length * w[a]!
      hessian[a]![a]! += ridge * labels.length
    }
    const step = solve(hessian, gradient)
    const objective = (v: readonly number[]): number =>
      stackedLogLoss(margins, v, labels) + (ridge / 2) * v.reduce((sum, x) => sum + x * x, 0)
    const before = objective(w)
    let scale = 1
    let next = w.map((x, a) => x - step[a]!)
    while (!(objective(next) <= before) && scale > 1e-10) {
      scale /= 2
      next = w.map((x, a) => x - scale * step[a]!)
    }
    next.forEach((x, a) => (w[a] = x))
    if (Math.max(...step.map((s) => Math.abs(s * scale))) < 1e-9) break
  }
  return w
}

/** Mean log-loss of `σ(Σ_k w_k · margins[k][i])`. */
export function stackedLogLoss(margins: readonly Float64Array[], weights: readonly number[], labels: readonly number[]): number {
  let total = 0
  labels.forEach((label, i) => {
    const z = margins.reduce((s, m, c) => s + weights[c]! * m[i]!, 0)
    // log(1 + e^-x) computed stably for either sign.
    const x = label === 1 ? z : -z
    total += x > 0 ? Math.log1p(Math.exp(-x)) : -x + Math.log1p(Math.exp(x))
  })
  return total / Math.max(1, labels.length)
}

/** Margins `logit(positive) - logit(negative)` of `[l0, l1]` logit pairs. */
export function marginsOf(logits: Float64Array): Float64Array {
  return Float64Array.from({ length: logits.length / 2 }, (_, i) => logits[i * 2 + 1]! - logits[i * 2]!)
}

/** Solves `A x = b` by Gaussian elimination with partial pivoting (A is small). */
function solve(matrix: number[][], vector: number[]): number[] {
  const n = vector.length
  const a = matrix.map((row, i) => [...row, vector[i]!])
  for (let col = 0; col < n; col++) {
    let pivot = col
    for (let r = col + 1; r < n; r++) if (Math.abs(a[r]![col]!) > Math.abs(a[pivot]![col]!)) pivot = r
    ;[a[col], a[pivot]] = [a[pivot]!, a[col]!]
    for (let r = col + 1; r < n; r++) {
      const factor = a[r]![col]! / a[col]![col]!
      for (let c = col; c <= n; c++) a[r]![c]! -= factor * a[col]![c]!
    }
  }
  const x = new Array<number>(n).fill(0)
  for (let r = n - 1; r >= 0; r--) {
    let s = a[r]![n]!
    for (let c = r + 1; c < n; c++) s -= a[r]![c]! * x[c]!
    x[r] = s / a[r]![r]!
  }
  return x
}
