/**
 * The meter: the one place where a key is charged for work and given back what bought none.
 *
 * Every unit a key causes goes through `charge`: against the key's own limits (or the server's
 * defaults) and its owner's shared limits, all or nothing, in one atomic step of the limiter.
 * What each operation costs, and when, is the table in `costs.ts` (and docs/rate-limits.md).
 * A charge whose work was refused afterwards (the model's queue was full, the job could not be
 * stored) is refunded with `refund`, so refused work costs nothing; what is still charged is
 * what the audit record, and so `GET /v1/usage`, shows.
 *
 * Credits (`credits.ts`): once the limiter admits, the units are taken from the key's and its
 * owner's credit balances, both or neither, in one database transaction; refused, the limiter's
 * charge is given back, so the refused request costs nothing anywhere. A key whose record shows
 * no balance (for it or its owner) skips this step: no database round trip. These are balances
 * in request units; balances in LLM tokens are taken by `llm/token-credits.ts`.
 */
import type { Clock } from '../lib/clock.js'
import type { Principal } from '../keys/types.js'
import type { Decision, LimitGroup, Limiter } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { CreditState, CreditStore, CreditSubject, CreditTaken, CreditUnit } from './credits.js'

/** Whose limits a principal's work counts against. */
interface LimitGroupSource {
  limitGroups(principal: Principal): readonly LimitGroup[]
}

export interface MeterOptions {
  limiter: Limiter
  keys: LimitGroupSource
  credits: CreditStore
  clock: Clock
  /** Told about refunds that could not be made (the caller then stays charged; never the reverse). */
  onRefundError?: (error: unknown) => void
  /** Told the balances each charge of `units` left (`credit-alerts.ts`). */
  onBalances?: (states: readonly CreditState[], units: number) => void
}

/** A charge the credit balances refused: when the next refill comes (null: never). */
export interface QuotaRefusal {
  readonly subject: CreditSubject
  readonly nextRefillAt: number | null
}

/**
 * The headers of a refusal for credits: `Retry-After` until the next refill (none when none
 * comes), and `x-should-retry: false`, which the OpenAI SDKs obey (they retry every 429
 * otherwise, and a balance does not come back within their back-off).
 */
export function quotaHeaders(quota: QuotaRefusal, now: number): Record<string, string> {
  const headers: Record<string, string> = { 'x-should-retry': 'false' }
  if (quota.nextRefillAt !== null) headers['retry-after'] = String(Math.max(1, ceilSeconds(quota.nextRefillAt - now)))
  return headers
}

/** One charge: the limiter's decision, and the units still charged (0 when refused). */
export interface Charge {
  readonly decision: Decision
  readonly groups: readonly LimitGroup[]
  /** Units charged and not given back. */
  units: number
  /** The balances the units were taken from (none when the key and its owner have no balance). */
  readonly taken: readonly CreditTaken[]
  /** The balances as they stand after the charge (or as read, when refused), for the headers. */
  readonly credits: readonly CreditState[]
  /** Set when the limiter admitted but a balance was short: nothing stays charged. */
  readonly quota: QuotaRefusal | null
}

/** The balances in `unit` a principal's work takes from, as its key record knew them. */
export function creditSubjects(principal: Principal, unit: CreditUnit): CreditSubject[] {
  const subjects: CreditSubject[] = []
  if (principal.credits === unit) subjects.push({ kind: 'key', id: principal.keyId })
  if (principal.ownerCredits === unit) subjects.push({ kind: 'owner', id: principal.owner })
  return subjects
}

export class Meter {
  constructor(private readonly options: MeterOptions) {}

  /** Charges `units` to the principal's limits and balances, or refuses and charges nothing (see `decision.allowed`, `quota`). */
  async charge(principal: Principal, units: number): Promise<Charge> {
    const groups = this.options.keys.limitGroups(principal)
    const decision = await this.options.limiter.consumeAll(groups, units)
    const subjects = creditSubjects(principal, 'requests')
    const charge = { decision, groups, units: decision.allowed ? units : 0, taken: [], credits: [], quota: null }
    if (subjects.length === 0) return charge
    const now = this.options.clock.now()
    if (!decision.allowed || units === 0) return { ...charge, credits: await this.options.credits.states(subjects, now) }
    const result = await this.options.credits.take(subjects, units, now)
    if (result.ok) {
      this.options.onBalances?.(result.states, units)
      return { ...charge, taken: result.taken, credits: result.states }
    }
    // Refused work takes nothing: the limiter's units go back before the answer.
    try {
      await this.options.limiter.refund(groups, units, decision)
    } catch (error) {
      this.options.onRefundError?.(error)
    }
    return { ...charge, units: 0, credits: await this.options.credits.states(subjects, now), quota: result }
  }

  /** The principal's limits and balances as they stand, charging nothing. */
  async peek(principal: Principal): Promise<{ decision: Decision; groups: readonly LimitGroup[]; credits: readonly CreditState[] }> {
    const groups = this.options.keys.limitGroups(principal)
    const subjects = creditSubjects(principal, 'requests')
    const credits = subjects.length === 0 ? [] : await this.options.credits.states(subjects, this.options.clock.now())
    return { decision: await this.options.limiter.peek(groups), groups, credits }
  }

  /**
   * Gives back `units` of a charge (all that is left when omitted), at most what it still
   * holds, to its limits and its balances. The charge's `units` drop at once, so the request's
   * audit record shows what stayed charged; the limiter and the balances are told in the background.
   */
  refund(charge: Charge, units = charge.units): void {
    const back = Math.min(units, charge.units)
    if (back <= 0) return
    charge.units -= back
    const onError = this.options.onRefundError ?? (() => {})
    try {
      void Promise.resolve(this.options.limiter.refund(charge.groups, back, charge.decision)).catch(onError)
    } catch (error) {
      onError(error)
    }
    void this.refundCredits(charge.taken, back).catch(onError)
  }

  /**
   * Gives `units` back to the balances they were taken from (a cancelled job's unprocessed
   * texts), unless a refill has set a balance anew since; the limits keep them.
   */
  refundCredits(taken: readonly CreditTaken[], units: number): Promise<void> {
    return this.options.credits.giveBack(taken, units)
  }
}
