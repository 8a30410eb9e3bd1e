/**
 * Turns admin API bodies into the key service's inputs: limits written as on the CLI,
 * expiry as a time or a duration, metadata size. Every problem is a 422 naming the field.
 */
import type { CreditBalance, CreditUnit, CreditsChange } from '../accounting/credits.js'
import { CreditsError, refillOf } from '../accounting/credits.js'
import type { ValidationIssue } from '../errors.js'
import { errors } from '../errors.js'
import type { KeyMetadata } from '../keys/types.js'
import { parseGrace, parseKeyName, parseMetadata } from '../keys/types.js'
import { LATEST_TIME_MS, parseDuration } from '../lib/duration.js'
import { unknownModels } from '../models/spec.js'
import { parseAllowList } from '../keys/ip-allow.js'
import type { LimitEdit, LimitsChange } from '../ratelimit/limit-edit.js'
import { LimitEditError, parseLimitEdit } from '../ratelimit/limit-edit.js'
import type { LimitRule } from '../ratelimit/policy.js'
import { parseRules } from '../ratelimit/policy.js'

function invalid(field: string, error: unknown): never {
  const issue: ValidationIssue = { loc: ['body', field], msg: (error as Error).message, type: 'value_error' }
  throw errors.validation([issue])
}

function guard<T>(field: string, parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    invalid(field, error)
  }
}

export const nameInput = (raw: string) => guard('name', () => parseKeyName(raw))

export const limitsInput = (raw: readonly string[] | null): LimitRule[] | null =>
  raw === null ? null : guard('limits', () => parseRules(raw))

/** The body field an impossible limit edit is about. */
const editField = (error: unknown) => (error instanceof LimitEditError && error.part === 'remove' ? 'remove_limits' : 'set_limits')

/** The limit fields of a PATCH body: `limits` replaces them all; `set_limits` and `remove_limits` edit some and keep the others. */
export interface LimitFields {
  limits?: readonly string[] | null
  set_limits?: readonly string[]
  remove_limits?: readonly string[]
}

/** What a PATCH body does to the limits: replace them, edit them (made by `edit`), or nothing (undefined). */
export function limitsChangeInput(
  body: LimitFields,
  edit: (parsed: LimitEdit) => LimitsChange,
): LimitRule[] | null | LimitsChange | undefined {
  const editing = body.set_limits !== undefined || body.remove_limits !== undefined
  if (!editing) return body.limits === undefined ? undefined : limitsInput(body.limits)
  if (body.limits !== undefined)
    invalid(
      'limits',
      new Error('give limits (replaces every limit) or set_limits / remove_limits (change some, keep the others), not both'),
    )
  try {
    return edit(parseLimitEdit(body.set_limits ?? [], body.remove_limits ?? []))
  } catch (error) {
    invalid(editField(error), error)
  }
}

/** Runs a change whose limit edit may not fit the limits stored (a limit to remove that is not there): 422 naming the field. */
export async function limitEditGuard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof LimitEditError) invalid(editField(error), error)
    throw error
  }
}

/** `models`: names of models this server serves (422 naming the ones it does not); null: all. */
export function modelsInput(raw: readonly string[] | null, known: readonly string[]): string[] | null {
  if (raw === null) return null
  const unknown = unknownModels(raw, known)
  if (unknown.length > 0)
    throw errors.validation(unknown.map(({ index, message }) => ({ loc: ['body', 'models', index], msg: message, type: 'value_error' })))
  return [...raw]
}

/** `allowed_ips`: normalised CIDR ranges (422 naming the first that is not one); null: any address. */
export const allowedIpsInput = (raw: readonly string[] | null): string[] | null =>
  raw === null ? null : guard('allowed_ips', () => parseAllowList(raw))

export const metadataInput = (raw: Record<string, unknown> | null): KeyMetadata | null =>
  raw === null ? null : guard('metadata', () => parseMetadata(raw))

/** `expires_at` (an ISO time in the future, or null) or `expires_in` (a duration from now); not both. */
export function expiryInput(body: { expires_at?: string | null; expires_in?: string }, now: number): number | null | undefined {
  if (body.expires_at !== undefined && body.expires_in !== undefined)
    invalid('expires_in', new Error('give expires_at or expires_in, not both'))
  if (body.expires_in !== undefined) {
    const ms = guard('expires_in', () => parseDuration(body.expires_in!))
    if (ms <= 0) invalid('expires_in', new Error('must be longer than 0'))
    return now + ms
  }
  if (body.expires_at === undefined || body.expires_at === null) return body.expires_at
  const at = Date.parse(body.expires_at)
  if (Number.isNaN(at)) invalid('expires_at', new Error(`"${body.expires_at}" is not an ISO 8601 time`))
  if (at <= now) invalid('expires_at', new Error('must be in the future'))
  if (at > LATEST_TIME_MS) invalid('expires_at', new Error('must be before the end of 9999'))
  return at
}

export const graceInput = (raw: string) => guard('grace', () => parseGrace(raw))

/** The `credits` and `add_credits` fields of a body. */
export interface CreditFields {
  credits?: { remaining: number; unit?: CreditUnit; refill?: { amount: number; every: string } | null } | null
  add_credits?: number
}

const refillInput = (raw: { amount: number; every: string } | null) =>
  raw === null ? null : guard('credits', () => refillOf(raw.amount, raw.every))

/** A new key's balance (422 naming `credits` for a bad refill period); null: none. */
export function creditsInput(raw: CreditFields['credits']): Pick<CreditBalance, 'remaining' | 'refill' | 'unit'> | null {
  if (raw === undefined || raw === null) return null
  return { remaining: raw.remaining, unit: raw.unit ?? 'requests', refill: raw.refill === undefined ? null : refillInput(raw.refill) }
}

/** What an update body does to a balance, or undefined for nothing. */
export function creditsChangeInput(body: CreditFields): CreditsChange | undefined {
  if (body.credits === null) {
    if (body.add_credits !== undefined) invalid('add_credits', new Error('add_credits cannot go with "credits": null'))
    return null
  }
  if (body.credits === undefined && body.add_credits === undefined) return undefined
  const change: Exclude<CreditsChange, null> = {}
  if (body.credits !== undefined) {
    change.remaining = body.credits.remaining
    if (body.credits.unit !== undefined) change.unit = body.credits.unit
    if (body.credits.refill !== undefined) change.refill = refillInput(body.credits.refill)
  }
  if (body.add_credits !== undefined) change.add = body.add_credits
  return change
}

/** Runs a change whose credits part may not fit the balance stored (nothing to add to): 422 naming the field. */
export async function creditsGuard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof CreditsError) invalid(error.part === 'unit' ? 'credits' : 'add_credits', error)
    throw error
  }
}
