/**
 * Credit balances in tokens (`accounting/credits.ts`, unit `tokens`) for the LLM routes: a key's
 * and its owner's balances that count prompt + completion tokens instead of request units.
 *
 * Before the call, `hold` takes the whole reservation (the prompt's counted tokens plus the most
 * the answer may use, the same number `budget.ts` reserves on the token limits) from the key's
 * and the owner's token balances, both or neither, in one transaction of conditional UPDATEs
 * (`remaining >= tokens`): however many requests run at once, on however many instances, the
 * balances never go below 0. After the call, `settle` brings the charge to the reported usage,
 * giving the unused part back; without a reported usage the hold stays charged in full.
 * A principal whose balances count requests (or who has none) holds nothing: no database round trip.
 */
import type { Clock } from '../lib/clock.js'
import type { Principal } from '../keys/types.js'
import type { CreditState, CreditStore, CreditSubject, CreditTaken } from '../accounting/credits.js'
import type { QuotaRefusal } from '../accounting/meter.js'
import { creditSubjects } from '../accounting/meter.js'

export interface TokenCreditsOptions {
  credits: CreditStore
  clock: Clock
  /** Told the balances each take of `tokens` left (`credit-alerts.ts`). */
  onBalances?: (states: readonly CreditState[], tokens: number) => void
  /** Told when a refund could not be made (the key then stays charged; never the reverse). */
  onRefundError?: (error: unknown) => void
}

/** Tokens taken from the balances for one request until it settles. */
export interface CreditHold {
  readonly taken: readonly CreditTaken[]
  readonly held: number
  /** Tokens charged now: the hold, then the settled usage. */
  charged: number
  settled: boolean
}

/** Held, with the balances as the hold left them (for the headers); or refused. */
export type HoldResult = { ok: true; hold: CreditHold; states: readonly CreditState[] } | { ok: false; refusal: QuotaRefusal }

export class TokenCredits {
  constructor(private readonly options: TokenCreditsOptions) {}

  /** Takes `tokens` from the principal's token balances, or refuses and takes nothing. */
  async hold(principal: Principal, tokens: number): Promise<HoldResult> {
    const subjects = creditSubjects(principal, 'tokens')
    if (subjects.length === 0) return { ok: true, hold: { taken: [], held: tokens, charged: tokens, settled: false }, states: [] }
    const result = await this.options.credits.take(subjects, tokens, this.options.clock.now(), 'tokens')
    if (!result.ok) return { ok: false, refusal: result }
    this.options.onBalances?.(result.states, tokens)
    return { ok: true, hold: { taken: result.taken, held: tokens, charged: tokens, settled: false }, states: result.states }
  }

  /**
   * Brings a hold to `used` tokens (null: no usage reported, the hold stays charged). Less than
   * held gives the rest back; more is taken when the balances still hold it, and otherwise the
   * charge stays at the hold: a balance never goes below 0. Returns the tokens charged. Runs once.
   */
  async settle(hold: CreditHold, used: number | null): Promise<number> {
    if (hold.settled) return hold.charged
    hold.settled = true
    if (hold.taken.length === 0 || used === null || used === hold.held) return hold.charged
    if (used < hold.held) {
      hold.charged = used
      try {
        await this.options.credits.giveBack(hold.taken, hold.held - used, 'tokens')
      } catch (error) {
        this.options.onRefundError?.(error)
      }
      return used
    }
    const subjects: CreditSubject[] = hold.taken.map(({ kind, id }) => ({ kind, id }))
    const extra = await this.options.credits.take(subjects, used - hold.held, this.options.clock.now(), 'tokens')
    if (extra.ok) {
      hold.charged = used
      this.options.onBalances?.(extra.states, used - hold.held)
    }
    return hold.charged
  }
}
