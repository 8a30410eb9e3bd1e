/**
 * What a wire protocol is to a remote model: how texts become one upstream call and the answer
 * becomes classifications, and how the server is probed. Each protocol lives in a file of its
 * own; everything about HTTP, failures and the breaker is shared (`model.ts`, `upstream.ts`).
 */
import type { Classification } from '../types.js'
import { UpstreamFailure } from './failure.js'
import type { UpstreamAnswer, UpstreamRequest } from './upstream.js'

/** One call to the server, already bound to the model's deadline, cancellation and credential. */
export type Call = (request: UpstreamRequest) => Promise<UpstreamAnswer>

export interface Protocol {
  /** Whether one call may carry many texts; if not, the batcher sends one text per call. */
  readonly takesBatches: boolean
  /** The model's labels, in the order of its scores (may be learned by the first probe). */
  labels: readonly string[]
  /** Classifies texts in one call; result `i` belongs to `texts[i]`. */
  classify(texts: readonly string[], call: Call): Promise<Classification[]>
  /**
   * Checks that the server answers as configured: at start, and while the breaker is open. Throws
   * `UpstreamFailure` when the server does not answer, `ProbeMismatch` when it answers but not
   * as configured (a wrong tensor name, labels that differ).
   */
  probe(call: Call): Promise<void>
}

/** The server answers, but not as the model was configured: starting would not help. */
export class ProbeMismatch extends Error {
  override name = 'ProbeMismatch'
}

/** The text classified by the start-up probe of servers without a readiness endpoint. */
export const PROBE_TEXT = 'infergate start-up probe: a good test sentence.'

export function invalid(reason: string): UpstreamFailure {
  return new UpstreamFailure('invalid_answer', reason)
}

/** The answer's body as JSON, or an `invalid_answer` failure. */
export function parseAnswer(answer: UpstreamAnswer): unknown {
  try {
    return JSON.parse(answer.body) as unknown
  } catch {
    throw invalid('the answer is not JSON')
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

/** A probability as the server sent it, or an `invalid_answer` failure. */
export function probability(value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0 || value > 1) throw invalid(`${what} is not a probability`)
  return value
}

/** A classification that is certain of `label` (servers that send a label and no scores). */
export function certain(label: string, labels: readonly string[], confidence = 1): Classification {
  const scores: Record<string, number> = {}
  const rest = labels.length > 1 ? (1 - confidence) / (labels.length - 1) : 0
  for (const each of labels) scores[each] = each === label ? confidence : rest
  return { label, confidence, scores }
}

/** Checks there is one result per text. */
export function oneEach<T>(results: readonly T[], texts: readonly string[]): readonly T[] {
  if (results.length !== texts.length) throw invalid(`${results.length} results for ${texts.length} texts`)
  return results
}
