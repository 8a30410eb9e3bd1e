/**
 * Token budgets: `--llm-limit` rules per key and `--llm-owner-limit` rules per owner (not the
 * `default` owner of keys created without one), counted
 * in tokens on the same limiter as the request limits (memory, or Redis shared by every
 * instance), under subjects of their own so that tokens and requests never mix.
 *
 * Before the call, `reserve` charges the prompt's counted tokens plus the most the answer may
 * use (`max_tokens` × choices) to the key and its owner at once, all or nothing: the limiter's
 * atomic `consumeAll`. So however many requests run at once, on however many instances, the
 * reservations admitted never add up to more than a limit. After the call, `settle` brings the
 * charge to the upstream's reported usage, giving back the unused part; without a reported
 * usage the reservation stays charged in full.
 */
import type { Principal } from '../keys/types.js'
import { DEFAULT_OWNER } from '../keys/types.js'
import type { Decision, LimitGroup, Limiter } from '../ratelimit/limiter.js'
import type { LimitRule } from '../ratelimit/policy.js'
import { TOKEN_RULE_PREFIX } from '../ratelimit/subjects.js'

export interface TokenBudgetOptions {
  limiter: Limiter
  /** Rules every key gets, in tokens (`--llm-limit`). */
  keyRules: readonly LimitRule[]
  /** Rules every owner gets, shared by its keys (`--llm-owner-limit`). */
  ownerRules: readonly LimitRule[]
  /** Told when a refund could not be made (the key then stays charged; never the reverse). */
  onRefundError?: (error: unknown) => void
}

/** Tokens held for one request until it settles. */
export interface Reservation {
  readonly groups: readonly LimitGroup[]
  readonly decision: Decision
  readonly reserved: number
  /** Tokens charged now: the reservation, then the settled usage. */
  charged: number
  settled: boolean
}

/** Rules shown in headers as `tokens-<name>` (and `owner-tokens-<name>`), apart from the request limits. */
/** A key's or owner's own token rules (`tokens-…`), or null when it has none. */
function tokenRules(rules: readonly LimitRule[] | null): LimitRule[] | null {
  const tokens = rules?.filter((rule) => rule.name.startsWith(TOKEN_RULE_PREFIX)) ?? []
  return tokens.length > 0 ? tokens : null
}

const named = (rules: readonly LimitRule[], prefix: string) => rules.map((rule) => ({ ...rule, name: `${prefix}${rule.name}` }))

const UNLIMITED: Decision = { allowed: true, states: [], retryAfterMs: 0, blockedBy: [], exceedsLimit: false, at: 0 }

export class TokenBudget {
  private readonly keyRules: LimitRule[]
  private readonly ownerRules: LimitRule[]
  // Asked on every LLM request: built once per principal (a key's principal is cached by KeyService).
  private readonly cache = new WeakMap<Principal, readonly LimitGroup[]>()

  constructor(private readonly options: TokenBudgetOptions) {
    this.keyRules = named(options.keyRules, TOKEN_RULE_PREFIX)
    this.ownerRules = named(options.ownerRules, `owner-${TOKEN_RULE_PREFIX}`)
  }

  /** Whether any token rule is configured (without one, reservations admit everything). */
  get limited(): boolean {
    return this.keyRules.length + this.ownerRules.length > 0
  }

  /**
   * The token limits of a principal: the key's own `tokens-…` rules (set like any limit, e.g.
   * `keys create --limit tokens-day=50000/1d`) or else `--llm-limit`; the owner's own `tokens-…`
   * rules or else `--llm-owner-limit` (not for the `default` owner, which is no team).
   */
  groups(principal: Principal): readonly LimitGroup[] {
    let groups = this.cache.get(principal)
    if (groups === undefined) this.cache.set(principal, (groups = this.groupsOf(principal)))
    return groups
  }

  private groupsOf(principal: Principal): LimitGroup[] {
    const keyRules = tokenRules(principal.limits) ?? this.keyRules
    const ownRules = tokenRules(principal.ownerLimits)?.map((rule) => ({ ...rule, name: `owner-${rule.name}` }))
    // Keys created without an owner all belong to `default`: it is no team, so it shares no budget.
    const ownerRules = ownRules ?? (principal.owner === DEFAULT_OWNER ? [] : this.ownerRules)
    const groups: LimitGroup[] = []
    if (keyRules.length > 0) groups.push({ subject: `tokens:key:${principal.keyId}`, rules: keyRules })
    if (ownerRules.length > 0) groups.push({ subject: `tokens:owner:${principal.owner}`, rules: ownerRules })
    return groups
  }

  /** Charges `tokens` to the key's and owner's token limits, or refuses and charges nothing. */
  async reserve(principal: Principal, tokens: number): Promise<Reservation> {
    const groups = this.groups(principal)
    const decision = groups.length === 0 ? UNLIMITED : await this.options.limiter.consumeAll(groups, tokens)
    return { groups, decision, reserved: tokens, charged: decision.allowed ? tokens : 0, settled: false }
  }

  /** The limits as they stand, charging nothing. */
  async peek(principal: Principal): Promise<{ groups: readonly LimitGroup[]; decision: Decision }> {
    const groups = this.groups(principal)
    return { groups, decision: groups.length === 0 ? UNLIMITED : await this.options.limiter.peek(groups) }
  }

  /**
   * Brings an admitted reservation to `used` tokens (null: the upstream reported none, the
   * reservation stays charged). Less than reserved gives the rest back; more (a tokenizer that
   * counted fewer than the upstream's) is charged when the limits still admit it, and otherwise
   * stays at the reservation: a limit is never overrun. Returns the tokens charged. Runs once.
   */
  async settle(reservation: Reservation, used: number | null): Promise<number> {
    if (reservation.settled || !reservation.decision.allowed) return reservation.charged
    reservation.settled = true
    if (reservation.groups.length === 0) return (reservation.charged = used ?? reservation.reserved)
    if (used === null || used === reservation.reserved) return reservation.charged
    if (used < reservation.reserved) {
      reservation.charged = used
      try {
        await this.options.limiter.refund(reservation.groups, reservation.reserved - used, reservation.decision)
      } catch (error) {
        this.options.onRefundError?.(error)
      }
      return used
    }
    const extra = await this.options.limiter.consumeAll(reservation.groups, used - reservation.reserved)
    if (extra.allowed) reservation.charged = used
    return reservation.charged
  }
}
