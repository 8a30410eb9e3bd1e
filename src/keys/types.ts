/** What the key services know about a key. The key itself never appears here. */
import type { CreditBalance, CreditUnit, CreditsChange } from '../accounting/credits.js'
import { parseDuration } from '../lib/duration.js'
import type { LimitsChange } from '../ratelimit/limit-edit.js'
import type { LimitRule } from '../ratelimit/policy.js'
import type { KeyRefusal } from './refusals.js'

export const SCOPES = ['predict', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

/**
 * `disabled`: refused until enabled again; `rotated`: replaced by another key, accepted until
 * its grace period ends and refused after.
 */
export const KEY_STATUSES = ['active', 'disabled', 'expired', 'revoked', 'rotated'] as const
export type KeyStatus = (typeof KEY_STATUSES)[number]

/** Owner ids are chosen by the operator (a customer or team id from another system). */
export const OWNER_ID_PATTERN = '^[A-Za-z0-9_.-]{1,255}$'
const OWNER_ID = new RegExp(OWNER_ID_PATTERN)
/** The owner of keys created before owners existed, and of keys created without one by code. */
export const DEFAULT_OWNER = 'default'
/** Largest metadata object, serialized as JSON. */
export const MAX_METADATA_BYTES = 4096

export type KeyMetadata = Record<string, unknown>

export interface ApiKeyRecord {
  id: string
  name: string
  /** `igk_` and six characters: what humans see in lists and logs. */
  prefix: string
  keyHash: string
  scopes: Scope[]
  createdAt: number
  expiresAt: number | null
  revokedAt: number | null
  lastUsedAt: number | null
  updatedAt: number
  /** The key's own limits; null: the server's default limits apply. */
  limits: LimitRule[] | null
  /** The models the key may use; null: all of them. */
  models: string[] | null
  /** CIDR ranges the key may be used from (`keys/ip-allow.ts`); null: any address. */
  allowedIps: string[] | null
  /** Most requests of the key in flight at once (`ratelimit/concurrency.ts`); null: no cap. */
  concurrency: number | null
  owner: string
  metadata: KeyMetadata | null
  disabled: boolean
  /** Set on a key replaced by a rotation: the new key's id and when the old one stops working. */
  rotatedTo: string | null
  graceEndsAt: number | null
  /** The key's credit balance as read (`accounting/credits.ts`); null: none, unlimited. */
  credits: CreditBalance | null
}

/** Fields of a key that can change after creation. */
export interface KeyChanges {
  name?: string
  scopes?: Scope[]
  expiresAt?: number | null
  limits?: LimitRule[] | null
  models?: string[] | null
  allowedIps?: string[] | null
  concurrency?: number | null
  metadata?: KeyMetadata | null
  disabled?: boolean
  credits?: CreditsChange
}

/**
 * What `KeyService.update` takes: changes whose limits may also be computed from the key's
 * current ones (an edit that keeps the limits it does not name), under the store's write lock.
 */
export type KeyUpdate = Omit<KeyChanges, 'limits'> & { limits?: LimitRule[] | null | LimitsChange }

/** Which keys a listing shows; every field narrows it. */
export interface KeyFilter {
  owner?: string
  status?: KeyStatus
  scope?: Scope
  /** A substring of the name (any case), or the start of a key (`igk_AbC…`). */
  q?: string
}

/** An owner's shared limits as stored. */
export interface OwnerRecord {
  id: string
  limits: LimitRule[] | null
  /** CIDR ranges every key of the owner may be used from; null: any address. */
  allowedIps: string[] | null
  /** Most requests of all keys of the owner in flight at once; null: no cap. */
  concurrency: number | null
  /** A balance every key of the owner takes from, on top of its own; null: none. */
  credits: CreditBalance | null
  createdAt: number
  updatedAt: number
}

/** The authenticated caller, attached to each request. */
export interface Principal {
  keyId: string
  prefix: string
  name: string
  scopes: readonly Scope[]
  limits: readonly LimitRule[] | null
  models: readonly string[] | null
  owner: string
  /** Limits shared by every key of the owner; null: none. */
  ownerLimits: readonly LimitRule[] | null
  /** Where the key, and every key of its owner, may be used from; null: any address. */
  allowedIps: readonly string[] | null
  ownerAllowedIps: readonly string[] | null
  /** Most requests in flight at once, of the key and of all keys of its owner; null: no cap. */
  concurrency: number | null
  ownerConcurrency: number | null
  /**
   * What the key's, and its owner's, credit balance counted when the key was loaded (null: no
   * balance): a charge in a unit neither counts is made without a database round trip. The
   * balances themselves are read at each charge.
   */
  credits: CreditUnit | null
  ownerCredits: CreditUnit | null
}

/** A refused key that exists (revoked, expired, disabled, rotated) carries its id, for the audit log. */
export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: KeyRefusal; keyId?: string }

type StatusFields = Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt' | 'disabled' | 'rotatedTo' | 'graceEndsAt'>

/**
 * The state of a key at time `now`, the strongest first: revoked, expired, disabled, rotated
 * (in its grace period or past it), active.
 */
export function keyStatus(record: StatusFields, now: number): KeyStatus {
  if (record.revokedAt !== null) return 'revoked'
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired'
  if (record.disabled) return 'disabled'
  if (record.rotatedTo !== null) return 'rotated'
  return 'active'
}

/** Why a key is refused at `now`, or null when it is accepted (active, or rotated within its grace period). */
export function refusalOf(record: StatusFields, now: number): Exclude<KeyRefusal, 'malformed' | 'unknown'> | null {
  const status = keyStatus(record, now)
  if (status === 'active') return null
  if (status === 'rotated') return record.graceEndsAt !== null && record.graceEndsAt > now ? null : 'rotated'
  return status
}

/** Checks an owner id; throws a readable message otherwise. */
export function parseOwnerId(raw: string): string {
  if (!OWNER_ID.test(raw)) throw new Error(`"${raw}" is not an owner id: 1 to 255 characters from A-Z a-z 0-9 _ . -`)
  return raw
}

/** Checks metadata: a JSON object of at most MAX_METADATA_BYTES once serialized. */
export function parseMetadata(value: unknown): KeyMetadata {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new Error('metadata must be a JSON object')
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes > MAX_METADATA_BYTES) throw new Error(`metadata is ${bytes} bytes as JSON; at most ${MAX_METADATA_BYTES} are allowed`)
  return value as KeyMetadata
}

/** Parses `predict,admin` into scopes; throws naming the unknown scope. */
export function parseScopes(raw: string): Scope[] {
  const scopes = raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
  if (scopes.length === 0) throw new Error('at least one scope is required')
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new Error(`unknown scope "${scope}" (known: ${SCOPES.join(', ')})`)
    }
  }
  return [...new Set(scopes)].sort() as Scope[]
}

/** A key name: 1 to 100 characters without control, invisible or bidi formatting characters, trimmed. */
export function parseKeyName(raw: string): string {
  const name = raw.trim()
  // Cf: invisible formatting (zero-width, bidi overrides that make `gnp.exe` read as `exe.png`); Cs: lone surrogates.
  if (name.length === 0 || name.length > 100 || /[\p{Cc}\p{Cf}\p{Cs}]/u.test(name)) {
    throw new Error('must be 1 to 100 characters without control, invisible or bidi formatting characters')
  }
  return name
}

/** Longest grace period of a rotation. */
const MAX_GRACE_MS = 30 * 86_400_000

/** A rotation's grace period: `0` (the old key is refused at once) or a duration such as `24h`, at most 30 days. */
export function parseGrace(raw: string): number {
  const ms = raw.trim() === '0' ? 0 : parseDuration(raw)
  if (ms > MAX_GRACE_MS) throw new Error(`"${raw}" is longer than 30d`)
  return ms
}
