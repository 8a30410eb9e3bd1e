/**
 * The meter: the one place where a key is charged for work and given back what bought none.
 *
 * Every unit a key causes goes through `charge`: against the key's own limits (or the server's
 * defaults) and its owner's shared limits, all or nothing, in one atomic step of the limiter.
 * What each operation costs, and when, is the table in `costs.ts` (and docs/rate-limits.md).
 * A charge whose work was refused afterwards (the model's queue was full, the job could not be
 * stored) is refunded with `refund`, so refused work costs nothing; what is still charged is
 * what the audit record, and so `GET /v1/usage`, shows.
 */
import type { Principal } from '../keys/types.js'
import type { Decision, LimitGroup, Limiter } from '../ratelimit/limiter.js'

/** Whose limits a principal's work counts against. */
interface LimitGroupSource {
  limitGroups(principal: Principal): readonly LimitGroup[]
}

export interface MeterOptions {
  limiter: Limiter
  keys: LimitGroupSource
  /** Told about refunds that could not be made (the caller then stays charged; never the reverse). */
  onRefundError?: (error: unknown) => void
}

/** One charge: the limiter's decision, and the units still charged (0 when refused). */
export interface Charge {
  readonly decision: Decision
  readonly groups: readonly LimitGroup[]
  /** Units charged and not given back. */
  units: number
}

export class Meter {
  constructor(private readonly options: MeterOptions) {}

  /** Charges `units` to the principal's limits, or refuses and charges nothing (see `decision.allowed`). */
  async charge(principal: Principal, units: number): Promise<Charge> {
    const groups = this.options.keys.limitGroups(principal)
    const decision = await this.options.limiter.consumeAll(groups, units)
    return { decision, groups, units: decision.allowed ? units : 0 }
  }

  /** The principal's limits as they stand, charging nothing. */
  async peek(principal: Principal): Promise<{ decision: Decision; groups: readonly LimitGroup[] }> {
    const groups = this.options.keys.limitGroups(principal)
    return { decision: await this.options.limiter.peek(groups), groups }
  }

  /**
   * Gives back `units` of a charge (all that is left when omitted), at most what it still
   * holds. The charge's `units` drop at once, so the request's audit record shows what stayed
   * charged; the limiter is told in the background.
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
  }
}
