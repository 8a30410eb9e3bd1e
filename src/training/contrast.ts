/**
 * The "A but B" rule of Hu et al. 2016 ("Harnessing Deep Neural Networks with Logic Rules"),
 * distilled into a CNN while it trains: a sentence with a contrast has the sentiment of the
 * clause after it. For such an example the teacher distribution `q` projects the network's own
 * prediction `p` towards the rule, `q(y) ∝ p(y) · exp(−C · (1 − r(y)))` with the rule's truth
 * `r(y)` = the network's probability of `y` for the clause B alone, and the network trains on
 * `(1 − π) · CE(label, p) + π · CE(q, p)`, π rising over training: `π = min(π0, 1 − decay^t)`
 * (t = phrase epochs done). Off by default; it changes training only, not the exported graph.
 */

/** Which sentences the rule reads and how strongly. */
export interface ContrastRule {
  /** B = the tokens after the last of these (not first nor last in the text). */
  cues: string[]
  /** A text starting with one of these ("although A, B") has B = the tokens after its first comma. */
  leadingCues: string[]
  /** C: how strongly the teacher follows the rule. */
  strength: number
  /** π0: the largest share of the teacher in the loss. */
  piMax: number
  /** π = min(π0, 1 − decay^t), t in phrase epochs. */
  decay: number
}

/** Hu et al.'s settings: "but" only, C = 6, π = 1 − 0.95^t (their π0 of 0.95 caps it). */
export const DEFAULT_CONTRAST_RULE: ContrastRule = { cues: ['but'], leadingCues: [], strength: 6, piMax: 0.95, decay: 0.95 }

/** Where clause B starts in `tokens` under `rule`, or -1 when the rule does not apply. */
export function contrastClauseStart(tokens: readonly string[], rule: Pick<ContrastRule, 'cues' | 'leadingCues'>): number {
  for (let i = tokens.length - 2; i >= 1; i--) if (rule.cues.includes(tokens[i]!)) return i + 1
  if (tokens.length > 0 && rule.leadingCues.includes(tokens[0]!)) {
    const comma = tokens.indexOf(',')
    if (comma > 1 && comma < tokens.length - 1) return comma + 1
  }
  return -1
}

/** The teacher's share of the loss after `epochs` (fractional) phrase epochs. */
export function teacherShare(rule: ContrastRule, epochs: number): number {
  return Math.min(rule.piMax, 1 - rule.decay ** epochs)
}

/**
 * The soft target for P(positive) of an example with label `label`, network probability `p1`
 * and probability `b1` for its clause B: `(1 − π) · label + π · q(positive)`.
 */
export function contrastTarget(label: number, p1: number, b1: number, strength: number, pi: number): number {
  // q1 / q0 = p1 · exp(C · b1) / (p0 · exp(C · b0)); b0 = 1 − b1.
  const positive = p1 * Math.exp(strength * (b1 - 1))
  const negative = (1 - p1) * Math.exp(-strength * b1)
  const q1 = positive / (positive + negative)
  return (1 - pi) * label + pi * q1
}
