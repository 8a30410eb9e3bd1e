/**
 * Credit balances of keys and owners: a number of units that charges take from and that, with a
 * refill, is set back to the refill amount at each period boundary (Unkey's semantics: a refill
 * does not add, it resets; units left at the end of a period are not carried over).
 *
 * Balances live in the database (columns of `api_keys` and `owners`), not in the limiter: they
 * survive restarts and every instance on one PostgreSQL shares them, whether the limits are in
 * memory or in Redis. A charge takes its units from the key's and the owner's balances in one
 * transaction of conditional UPDATEs (`remaining >= units`), the refill due applied in the same
 * statement from `refilled_at`: two requests cannot both take the last unit, on any store.
 *
 * A balance counts in one unit: `requests` (each request's cost, `costs.ts`) or `tokens` (LLM
 * tokens, reserved and settled by `llm/call.ts`). A charge takes only from the balances of its
 * unit; the others do not limit it.
 */
import type { Kysely, RawBuilder } from 'kysely'
import { sql } from 'kysely'
import type { Database } from '../db/types.js'
import type { DatabaseSchema } from '../db/schema.js'
import { compactDuration, parseDuration } from '../lib/duration.js'

/** Every `refill.everyMs`, the balance is set back to `amount`. */
export interface Refill {
  amount: number
  everyMs: number
}

/** What a balance counts: request units, or LLM tokens (prompt + completion). */
export const CREDIT_UNITS = ['requests', 'tokens'] as const
export type CreditUnit = (typeof CREDIT_UNITS)[number]

/** A balance as stored; `remaining` does not yet count a refill that came due since `refilledAt`. */
export interface CreditBalance {
  remaining: number
  unit: CreditUnit
  refill: Refill | null
  /** Start of the current refill period (null without a refill). */
  refilledAt: number | null
}

/** Largest balance, refill or addition: integers stay exact up to here. */
const MAX_CREDITS = Number.MAX_SAFE_INTEGER
/** Shortest and longest refill period. */
const MIN_REFILL_MS = 1000
const MAX_REFILL_MS = 10 * 366 * 86_400_000

/** A balance or an amount: a whole number from `min` to 2^53 - 1; throws a readable message otherwise. */
export function parseCreditAmount(raw: string | number, min = 0): number {
  const value = typeof raw === 'number' ? raw : /^\s*\d{1,16}\s*$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < min || value > MAX_CREDITS) {
    throw new Error(`"${String(raw).slice(0, 32)}" is not a whole number of credits from ${min} to ${MAX_CREDITS}`)
  }
  return value
}

/** A refill as written on the CLI: `1000/30d` (amount / period, at least 1s, at most 10 years). */
export function parseRefill(raw: string): Refill {
  const match = /^\s*(\d{1,16})\s*\/\s*(\S{1,16})\s*$/.exec(raw)
  if (!match) throw new Error(`"${raw.slice(0, 32)}" is not a refill such as 1000/30d (amount/period)`)
  return refillOf(parseCreditAmount(match[1]!, 1), match[2]!)
}

/** A refill from its amount and period (`30d`); throws a readable message for a period out of range. */
export function refillOf(amount: number, every: string): Refill {
  const everyMs = parseDuration(every)
  if (everyMs < MIN_REFILL_MS || everyMs > MAX_REFILL_MS) throw new Error(`"${every}" is not a refill period from 1s to 3660d`)
  return { amount: parseCreditAmount(amount, 1), everyMs }
}

export const formatRefill = (refill: Refill): string => `${refill.amount}/${compactDuration(refill.everyMs)}`

/** A balance at `now`: the refill due applied, and when the next one comes (null: never). */
export function balanceAt(balance: CreditBalance, now: number): { remaining: number; nextRefillAt: number | null } {
  const { refill, refilledAt } = balance
  if (refill === null || refilledAt === null) return { remaining: balance.remaining, nextRefillAt: null }
  const periods = Math.max(0, Math.floor((now - refilledAt) / refill.everyMs))
  return { remaining: periods > 0 ? refill.amount : balance.remaining, nextRefillAt: refilledAt + (periods + 1) * refill.everyMs }
}

/** A balance as JSON (admin API, `keys … --json`, `GET /v1/usage`). */
export function creditsView(balance: CreditBalance | null, now: number) {
  if (balance === null) return null
  const { remaining, nextRefillAt } = balanceAt(balance, now)
  return {
    remaining,
    unit: balance.unit,
    refill: balance.refill && { amount: balance.refill.amount, every: compactDuration(balance.refill.everyMs) },
    next_refill_at: nextRefillAt === null ? null : new Date(nextRefillAt).toISOString(),
  }
}

/**
 * A change of a balance: `null` removes it (unlimited again); otherwise `remaining` sets it,
 * `add` adds to it (after the refill due), `refill` sets the refill (a new period starts now; a
 * key without a balance starts at the refill amount) or removes it (null), `unit` sets what it
 * counts (a new balance without one counts requests). Absent: unchanged.
 */
export type CreditsChange = null | { remaining?: number; add?: number; refill?: Refill | null; unit?: CreditUnit }

/** A change that cannot be made (adding to no balance, past 2^53 - 1): 422 / exit 2. */
export class CreditsError extends Error {
  override name = 'CreditsError'
  /** The part of the change at fault: the addition, or the unit. */
  constructor(
    message: string,
    readonly part: 'add' | 'unit' = 'add',
  ) {
    super(message)
  }
}

type CreditTable = 'api_keys' | 'owners'

/** Whose balance: a key's (`api_keys`) or an owner's. */
export interface CreditSubject {
  kind: 'key' | 'owner'
  id: string
}

/** Credits taken from one balance: enough to give them back while its refill period lasts. */
export interface CreditTaken extends CreditSubject {
  /** The balance's refill period when taken (null without a refill): a refund after a refill gives nothing back. */
  period: number | null
}

/** The credits a job's submission took, so that cancelling it gives back its unprocessed texts' part. */
export interface JobCredits {
  taken: CreditTaken[]
  unitsPerText: number
}

/** A balance after a charge, for the headers. */
export interface CreditState extends CreditSubject {
  remaining: number
  unit: CreditUnit
  refill: Refill | null
  nextRefillAt: number | null
}

export type TakeResult =
  | { ok: true; taken: CreditTaken[]; states: CreditState[] }
  | { ok: false; subject: CreditSubject; /** When the next refill comes; null: never. */ nextRefillAt: number | null }

const tableOf = (kind: CreditSubject['kind']): CreditTable => (kind === 'key' ? 'api_keys' : 'owners')

interface BalanceRow {
  credits_remaining: number | null
  credits_unit: string | null
  credits_refill_amount: number | null
  credits_refill_ms: number | null
  credits_refilled_at: number | null
}

/** The balance stored in a row's credit columns, or null for none. */
export function balanceOf(row: BalanceRow): CreditBalance | null {
  if (row.credits_remaining === null) return null
  const refill =
    row.credits_refill_amount === null || row.credits_refill_ms === null
      ? null
      : { amount: Number(row.credits_refill_amount), everyMs: Number(row.credits_refill_ms) }
  const refilledAt = row.credits_refilled_at === null ? null : Number(row.credits_refilled_at)
  const unit: CreditUnit = row.credits_unit === 'tokens' ? 'tokens' : 'requests'
  return { remaining: Number(row.credits_remaining), unit, refill, refilledAt }
}

const int = (value: number): RawBuilder<number> => sql<number>`cast(${value} as bigint)`

/** SQL: the refill is due at `now`. */
const due = (now: number) => sql`(credits_refill_ms is not null and ${int(now)} >= credits_refilled_at + credits_refill_ms)`
/** SQL: the balance at `now`, the refill due applied. */
const effective = (now: number) => sql<number>`(case when ${due(now)} then credits_refill_amount else credits_remaining end)`
/** SQL: the start of the period holding `now`. */
const period = (now: number) =>
  sql<number>`(case when ${due(now)} then credits_refilled_at + ((${int(now)} - credits_refilled_at) / credits_refill_ms) * credits_refill_ms else credits_refilled_at end)`

/** SQL: the balance counts `unit` (NULL is `requests`). */
const sameUnit = (unit: CreditUnit) => (unit === 'tokens' ? sql`credits_unit = 'tokens'` : sql`credits_unit is null`)

/** What a change sets, as column assignments; `current` is the balance read under the write lock. */
export function creditColumns(change: CreditsChange, current: CreditBalance | null, now: number): Record<string, unknown> {
  if (change === null)
    return { credits_remaining: null, credits_unit: null, credits_refill_amount: null, credits_refill_ms: null, credits_refilled_at: null }
  const columns: Record<string, unknown> = {}
  if (change.unit !== undefined) {
    if (current !== null && current.unit !== change.unit && change.remaining === undefined) {
      throw new CreditsError(`the balance counts ${current.unit}: give its new amount in ${change.unit} with the unit`, 'unit')
    }
    // NULL is `requests`, what every balance counted before there were units.
    columns.credits_unit = change.unit === 'tokens' ? 'tokens' : null
  }
  if (change.refill !== undefined) {
    columns.credits_refill_amount = change.refill?.amount ?? null
    columns.credits_refill_ms = change.refill?.everyMs ?? null
    columns.credits_refilled_at = change.refill === null ? null : now
    if (change.refill !== null && current === null && change.remaining === undefined) columns.credits_remaining = change.refill.amount
  }
  if (change.remaining !== undefined) columns.credits_remaining = change.remaining
  if (change.add !== undefined) {
    if (current === null && change.remaining === undefined) {
      throw new CreditsError('there is no credit balance to add to: set one first (--credits, "credits")')
    }
    const base = change.remaining ?? Math.max(current!.remaining, current!.refill?.amount ?? 0)
    if (base + change.add > MAX_CREDITS) throw new CreditsError(`the balance would pass ${MAX_CREDITS}`)
    // Added to the balance as it stands at this instant (charges may be taking from it meanwhile).
    const set = columns.credits_remaining
    if (typeof set === 'number') columns.credits_remaining = set + change.add
    else if (change.refill === undefined) {
      columns.credits_remaining = sql`${effective(now)} + ${int(change.add)}`
      columns.credits_refilled_at = period(now)
    } else columns.credits_remaining = sql`credits_remaining + ${int(change.add)}`
  }
  return columns
}

/** Takes and gives back credits; the one place that writes balances outside admin changes. */
export class CreditStore {
  constructor(private readonly db: Database) {}

  /**
   * Takes `units` from every subject's balance, all or none, in one transaction. A subject
   * whose balance was removed meanwhile, or now counts another unit, takes nothing and does not refuse.
   */
  async take(subjects: readonly CreditSubject[], units: number, now: number, unit: CreditUnit = 'requests'): Promise<TakeResult> {
    try {
      // One balance: its one conditional UPDATE is atomic by itself (one round trip, no transaction to open).
      return await this.atomically(subjects.length, async (trx) => {
        const taken: CreditTaken[] = []
        const states: CreditState[] = []
        for (const subject of subjects) {
          const table = tableOf(subject.kind)
          const result =
            await sql<BalanceRow>`update ${sql.table(table)} set credits_remaining = ${effective(now)} - ${int(units)}, credits_refilled_at = ${period(now)} where id = ${subject.id} and credits_remaining is not null and ${sameUnit(unit)} and ${effective(now)} >= ${int(units)} returning credits_remaining, credits_unit, credits_refill_amount, credits_refill_ms, credits_refilled_at`.execute(
              trx,
            )
          const row = result.rows[0]
          if (row) {
            const balance = balanceOf(row)!
            taken.push({ ...subject, period: balance.refilledAt })
            states.push({
              ...subject,
              remaining: balance.remaining,
              unit,
              refill: balance.refill,
              nextRefillAt: balanceAt(balance, now).nextRefillAt,
            })
            continue
          }
          const balance = await this.read(trx, subject)
          if (balance === null || balance.unit !== unit) continue
          throw new Refused({ ok: false, subject, nextRefillAt: balanceAt(balance, now).nextRefillAt })
        }
        return { ok: true as const, taken, states }
      })
    } catch (error) {
      if (error instanceof Refused) return error.result
      throw error
    }
  }

  /** Gives `units` back to the balances they were taken from, unless a refill has set them anew (or another unit) since. */
  async giveBack(taken: readonly CreditTaken[], units: number, unit: CreditUnit = 'requests'): Promise<void> {
    if (taken.length === 0 || units <= 0) return
    await this.atomically(taken.length, async (trx) => {
      for (const { kind, id, period } of taken) {
        await sql`update ${sql.table(tableOf(kind))} set credits_remaining = credits_remaining + ${int(units)} where id = ${id} and credits_remaining is not null and ${sameUnit(unit)} and coalesce(credits_refilled_at, -1) = ${int(period ?? -1)}`.execute(
          trx,
        )
      }
    })
  }

  private atomically<T>(statements: number, work: (db: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return statements === 1 ? work(this.db.kysely) : this.db.rowTransaction(work)
  }

  /** The balances of these subjects as they stand at `now` (those with none are left out). */
  async states(subjects: readonly CreditSubject[], now: number): Promise<CreditState[]> {
    const states: CreditState[] = []
    for (const subject of subjects) {
      const balance = await this.read(this.db.kysely, subject)
      if (balance === null) continue
      const { remaining, nextRefillAt } = balanceAt(balance, now)
      states.push({ ...subject, remaining, unit: balance.unit, refill: balance.refill, nextRefillAt })
    }
    return states
  }

  private async read(db: Kysely<DatabaseSchema>, subject: CreditSubject): Promise<CreditBalance | null> {
    const row = await db
      .selectFrom(tableOf(subject.kind))
      .select(['credits_remaining', 'credits_unit', 'credits_refill_amount', 'credits_refill_ms', 'credits_refilled_at'])
      .where('id', '=', subject.id)
      .executeTakeFirst()
    return row ? balanceOf(row) : null
  }
}

/** Carries a refusal out of the transaction, which it rolls back. */
class Refused extends Error {
  constructor(readonly result: TakeResult & { ok: false }) {
    super('credits refused')
  }
}
