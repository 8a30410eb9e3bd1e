/**
 * `--credits`, `--credits-unit`, `--add-credits`, `--no-credits`, `--refill`, `--no-refill` of `keys` and
 * `owners` (`accounting/credits.ts`): what they do to a balance, and how one is shown.
 */
import type { Command } from 'commander'
import type { CreditBalance, CreditUnit, CreditsChange } from '../accounting/credits.js'
import { CREDIT_UNITS, CreditsError, balanceAt, formatRefill, parseCreditAmount, parseRefill } from '../accounting/credits.js'
import { formatTime } from './table.js'
import { CliError } from './run.js'

export interface CreditOptions {
  credits?: string | false
  creditsUnit?: string
  addCredits?: string
  refill?: string | false
}

/** Runs a parse whose message then names the option (`--credits: "-1" is not …`). */
function named<T>(option: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw new Error(`${option}: ${(error as Error).message}`, { cause: error })
  }
}

const credits = (raw: string) => named('--credits', () => parseCreditAmount(raw))
const refill = (raw: string) => named('--refill', () => parseRefill(raw))

function unit(raw: string | undefined): CreditUnit | undefined {
  if (raw === undefined) return undefined
  if (!(CREDIT_UNITS as readonly string[]).includes(raw))
    throw new Error(`--credits-unit: "${raw.slice(0, 32)}" is not one of ${CREDIT_UNITS.join(', ')}`)
  return raw as CreditUnit
}

const UNIT_HELP = 'what the balance counts: requests (default) or tokens (LLM prompt + completion tokens)'

const REFILL_HELP = 'AMOUNT/PERIOD, e.g. 1000/30d: the balance is set back to AMOUNT every PERIOD, counted from now'

/** The options of a new key: a balance and its refill (a refill alone starts the balance at its amount). */
export function newBalance(options: CreditOptions): Pick<CreditBalance, 'remaining' | 'refill' | 'unit'> | null {
  const every = typeof options.refill === 'string' ? refill(options.refill) : null
  const counts = unit(options.creditsUnit)
  if (typeof options.credits !== 'string') {
    if (every === null && counts !== undefined) throw new Error('--credits-unit needs --credits or --refill')
    return every && { remaining: every.amount, refill: every, unit: counts ?? 'requests' }
  }
  return { remaining: credits(options.credits), refill: every, unit: counts ?? 'requests' }
}

export function addCreateCreditOptions(command: Command, whose: string): Command {
  return command
    .option('--credits <n>', `a credit balance the requests of ${whose} take their units from (default: none, unlimited)`)
    .option('--credits-unit <unit>', UNIT_HELP)
    .option('--refill <amount/period>', REFILL_HELP)
}

export function addUpdateCreditOptions(command: Command, whose: string): Command {
  return command
    .option('--credits <n>', `set the credit balance the requests of ${whose} take their units from`)
    .option('--credits-unit <unit>', `${UNIT_HELP}; changing it needs --credits`)
    .option('--add-credits <n>', 'add to the credit balance as it stands')
    .option('--no-credits', 'remove the credit balance: unlimited again')
    .option('--refill <amount/period>', REFILL_HELP)
    .option('--no-refill', 'stop refilling the balance')
}

/** What the update options do to a balance, or undefined for nothing; throws a readable message for a bad combination or value. */
export function creditsChange(options: CreditOptions): CreditsChange | undefined {
  if (options.credits === false) {
    if (options.addCredits !== undefined || options.refill !== undefined || options.creditsUnit !== undefined)
      throw new Error('--no-credits excludes --add-credits, --credits-unit, --refill and --no-refill')
    return null
  }
  const change: Exclude<CreditsChange, null> = {}
  if (options.credits !== undefined) change.remaining = credits(options.credits)
  const counts = unit(options.creditsUnit)
  if (counts !== undefined) change.unit = counts
  const add = options.addCredits
  if (add !== undefined) change.add = named('--add-credits', () => parseCreditAmount(add, 1))
  if (options.refill === false) change.refill = null
  else if (options.refill !== undefined) change.refill = refill(options.refill)
  return Object.keys(change).length === 0 ? undefined : change
}

/** Runs a change whose credits part may not fit the stored balance (nothing to add to): one line, exit 2. */
export async function creditsGuard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof CreditsError)
      throw new CliError(`invalid option: ${error.part === 'unit' ? '--credits-unit' : '--add-credits'}: ${error.message}`, 2)
    throw error
  }
}

/** A balance in one line: `940 (refill 1000/30d, next 2026-…)`, or `none (unlimited)`. */
export function creditsText(balance: CreditBalance | null, now: number): string {
  if (balance === null) return 'none (unlimited)'
  const { remaining, nextRefillAt } = balanceAt(balance, now)
  const amount = balance.unit === 'tokens' ? `${remaining} tokens` : String(remaining)
  if (balance.refill === null || nextRefillAt === null) return amount
  return `${amount} (refill ${formatRefill(balance.refill)}, next ${formatTime(nextRefillAt)})`
}
