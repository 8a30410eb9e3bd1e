/**
 * `credits.low` and `credits.exhausted` webhook events (docs/webhooks.md): told the balances a
 * charge left, it records an event for each balance that this very charge took across a line —
 * below `--credits-low-fraction` of its refill amount, or down to 0. Each charge's conditional
 * UPDATE returns the balance it left, so exactly one charge crosses a line, on every instance
 * together: no event is sent twice, none is missed. A balance without a refill has no "low" line.
 * `unit` says what the balance counts: `requests`, or `tokens` (where the charge is an LLM
 * request's reservation, given back in part when it settles: `llm/token-credits.ts`).
 */
import { compactDuration } from '../lib/duration.js'
import type { WebhookEventLog } from '../webhooks/events.js'
import type { CreditState } from './credits.js'

export interface CreditAlertOptions {
  events: Pick<WebhookEventLog, 'record'>
  /** `--credits-low-fraction`: 0 sends no `credits.low`. */
  lowFraction: number
  onError: (error: unknown) => void
}

function eventData(state: CreditState, units: number) {
  return {
    ...(state.kind === 'key' ? { key_id: state.id } : { owner: state.id }),
    unit: state.unit,
    remaining: state.remaining,
    charged: units,
    refill: state.refill && { amount: state.refill.amount, every: compactDuration(state.refill.everyMs) },
    next_refill_at: state.nextRefillAt === null ? null : new Date(state.nextRefillAt).toISOString(),
  }
}

/** Called with the balances a charge of `units` left; records the events it crossed into, in the background. */
export function creditAlerts(options: CreditAlertOptions): (states: readonly CreditState[], units: number) => void {
  return (states, units) => {
    for (const state of states) {
      const before = state.remaining + units
      const low = state.refill === null ? 0 : options.lowFraction * state.refill.amount
      const record = (type: 'credits.low' | 'credits.exhausted') =>
        void options.events.record(type, eventData(state, units)).catch(options.onError)
      if (low > 0 && before >= low && state.remaining < low) record('credits.low')
      if (before > 0 && state.remaining === 0) record('credits.exhausted')
    }
  }
}
