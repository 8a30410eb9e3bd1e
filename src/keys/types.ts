/** What the key services know about a key. The key itself never appears here. */
import type { LimitRule } from '../ratelimit/policy.js'

export const SCOPES = ['predict', 'admin'] as const
export type Scope = (typeof SCOPES)[number]

export type KeyStatus = 'active' | 'expired' | 'revoked'

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
}

/** The authenticated caller, attached to each request. */
export interface Principal {
  keyId: string
  prefix: string
  name: string
  scopes: readonly Scope[]
  limits: readonly LimitRule[] | null
  models: readonly string[] | null
}

/** Why a presented key was refused; callers all see the same 403, the audit log sees this. */
export type RejectReason = 'malformed' | 'unknown' | 'revoked' | 'expired'

/** A refused key that exists (revoked, expired) carries its id, for the audit log. */
export type VerifyResult = { ok: true; principal: Principal } | { ok: false; reason: RejectReason; keyId?: string }

/** The state of a key at time `now`. */
export function keyStatus(record: Pick<ApiKeyRecord, 'revokedAt' | 'expiresAt'>, now: number): KeyStatus {
  if (record.revokedAt !== null) return 'revoked'
  if (record.expiresAt !== null && record.expiresAt <= now) return 'expired'
  return 'active'
}

/** Parses `predict,admin` into scopes; throws naming the unknown scope. */
export function parseScopes(raw: string): Scope[] {
  const scopes = raw.split(',').map((s) => s.trim()).filter(Boolean)
  if (scopes.length === 0) throw new Error('at least one scope is required')
  for (const scope of scopes) {
    if (!(SCOPES as readonly string[]).includes(scope)) {
      throw new Error(`unknown scope "${scope}" (known: ${SCOPES.join(', ')})`)
    }
  }
  return [...new Set(scopes)].sort() as Scope[]
}
