/**
 * API key use cases shared by the HTTP API and the CLI: create, list, update, disable and
 * enable, rotate, revoke, owners' shared limits, verify, and the limit groups a key's
 * requests count against. Every change is audited. The store stays private: every read a
 * caller needs is a method here, so none can bypass the cache or the audit.
 *
 * Verification is on every request's path, so it is cached: parse and checksum (no I/O),
 * SHA-256, a bounded in-memory cache keyed by the digest, and only then the store. The cache
 * is dropped whenever another process changes the store, so a revocation made with the CLI
 * takes effect within the store's change-poll interval.
 */
import { LRUCache } from 'lru-cache'
import type { CreditBalance, CreditUnit, CreditsChange } from '../accounting/credits.js'
import type { AuditSink } from '../audit/writer.js'
import type { Database } from '../db/types.js'
import type { Clock } from '../lib/clock.js'
import { generateKey, isWellFormedKey, randomId, visiblePrefix } from './format.js'
import { digestsEqual, hashKey } from './hash.js'
import type { LimitGroup } from '../ratelimit/limiter.js'
import type { LimitsChange } from '../ratelimit/limit-edit.js'
import type { LimitRule } from '../ratelimit/policy.js'
import type { ChangeRefusal, ChangeResult } from './refusals.js'
import { limitGroups } from '../ratelimit/subjects.js'
import { KeyStore } from './store.js'
import type { ApiKeyRecord, KeyChanges, KeyFilter, KeyMetadata, KeyUpdate, OwnerRecord, Principal, Scope, VerifyResult } from './types.js'
import { DEFAULT_OWNER, keyStatus, refusalOf } from './types.js'

export interface KeyServiceOptions {
  db: Database
  clock: Clock
  /** Limits of keys that have none of their own (`--default-limits`). */
  defaultLimits: readonly LimitRule[]
  /** Most keys (and unknown digests) remembered; default 10,000. */
  cacheSize?: number
  /** How long an unknown digest is remembered as unknown; default 10 s. */
  negativeTtlMs?: number
  /** How often last-use times are written to the store; default 5 s. */
  touchIntervalMs?: number
  /** Told about background failures (a last-use flush that could not be written). */
  onBackgroundError?: (error: unknown) => void
  /** Where creations, updates and revocations are recorded (the audit log). */
  audit?: AuditSink
}

/**
 * Who performs an administrative action, for the audit log: `cli`, `bootstrap` (the first
 * start), `system` (code without a caller) or the id of the acting key.
 */
export type Actor = string

export interface CreateKeyInput {
  name: string
  scopes: Scope[]
  expiresAt?: number | null
  /** The key's own limits; null or absent: the server's default limits. */
  limits?: LimitRule[] | null
  /** The models the key may use; null or absent: all. */
  models?: string[] | null
  /** CIDR ranges the key may be used from; null or absent: any address. */
  allowedIps?: string[] | null
  /** Most requests of the key in flight at once; null or absent: no cap. */
  concurrency?: number | null
  /** Who the key belongs to; absent: `default`. */
  owner?: string
  /** The key's credit balance (a refill's period starts at creation); null or absent: none, unlimited. */
  credits?: (Pick<CreditBalance, 'remaining' | 'refill'> & { unit?: CreditUnit }) | null
  metadata?: KeyMetadata | null
}

export interface CreatedKey {
  /** The plaintext key: shown once to whoever created it, never stored. */
  key: string
  record: ApiKeyRecord
}

/** A key, its owner's shared limits, and the limit groups its requests are counted against. */
export interface KeyWithLimits {
  record: ApiKeyRecord
  /** The key as a request of it would be counted (for its token limits: `llm/budget.ts`). */
  principal: Principal
  groups: readonly LimitGroup[]
}

export interface Rotation {
  created: CreatedKey
  previous: ApiKeyRecord
}

const refused = <T>(reason: ChangeRefusal): ChangeResult<T> => ({ ok: false, reason })
const done = <T>(value: T): ChangeResult<T> => ({ ok: true, value })

type CacheEntry = { record: ApiKeyRecord; principal: Principal } | { record: null }

export class KeyService {
  private readonly store: KeyStore
  private readonly clock: Clock
  private readonly defaultLimits: readonly LimitRule[]
  private readonly cache: LRUCache<string, CacheEntry>
  // Per principal, and a principal lives as long as its cache entry: dropped with it when
  // keys or owners change, so the groups never outlive the limits they were built from.
  private readonly groups = new WeakMap<Principal, readonly LimitGroup[]>()
  private readonly negativeTtlMs: number
  private readonly lastUsed = new Map<string, number>()
  private readonly touchTimer: NodeJS.Timeout
  private readonly stopWatching: () => void
  private readonly audit: AuditSink | undefined
  private keysVersion: string | undefined
  /** Verifications answered from the cache and those that went to the store, for metrics. */
  readonly cacheStats = { hits: 0, misses: 0 }

  constructor(options: KeyServiceOptions) {
    this.store = new KeyStore(options.db)
    this.clock = options.clock
    this.defaultLimits = options.defaultLimits
    this.audit = options.audit
    this.negativeTtlMs = options.negativeTtlMs ?? 10_000
    this.cache = new LRUCache({ max: options.cacheSize ?? 10_000 })
    const onError = options.onBackgroundError ?? (() => {})
    // Other connections also commit audit records all the time (the audit worker, the CLI,
    // other instances): only a change to the keys themselves drops the cache.
    this.stopWatching = options.db.onExternalChange(() => void this.dropCacheIfKeysChanged().catch(onError))
    void this.store.version().then((version) => (this.keysVersion ??= version), onError)
    this.touchTimer = setInterval(() => void this.flushLastUsed().catch(onError), options.touchIntervalMs ?? 5000).unref()
  }

  async create(input: CreateKeyInput, actor: Actor = 'system'): Promise<CreatedKey> {
    const created = this.newKey(input, this.clock.now())
    await this.store.insert(created.record)
    await this.changedHere()
    const { name, owner, scopes, expiresAt, limits, models, metadata, credits } = created.record
    await this.audit?.admin({
      action: 'key.create',
      actor,
      keyId: created.record.id,
      keyPrefix: created.record.prefix,
      detail: { name, owner, scopes, expiresAt, limits, models, metadata, ...(credits && { credits }) },
    })
    return created
  }

  private newKey(input: CreateKeyInput & { disabled?: boolean }, now: number): CreatedKey {
    const key = generateKey()
    const record: ApiKeyRecord = {
      id: randomId('key'),
      name: input.name,
      prefix: visiblePrefix(key),
      keyHash: hashKey(key),
      scopes: input.scopes,
      createdAt: now,
      expiresAt: input.expiresAt ?? null,
      revokedAt: null,
      lastUsedAt: null,
      updatedAt: now,
      limits: input.limits ?? null,
      models: input.models ?? null,
      allowedIps: input.allowedIps ?? null,
      concurrency: input.concurrency ?? null,
      owner: input.owner ?? DEFAULT_OWNER,
      metadata: input.metadata ?? null,
      disabled: input.disabled ?? false,
      rotatedTo: null,
      graceEndsAt: null,
      credits: input.credits
        ? {
            remaining: input.credits.remaining,
            unit: input.credits.unit ?? 'requests',
            refill: input.credits.refill,
            refilledAt: input.credits.refill ? now : null,
          }
        : null,
    }
    return { key, record }
  }

  /** Revokes a key for good. Refused for the last active admin key; a revoked key stays as it is. */
  async revoke(id: string, actor: Actor = 'system'): Promise<ChangeResult<ApiKeyRecord>> {
    const outcome = await this.store.exclusive(async (store): Promise<ChangeResult<ApiKeyRecord>> => {
      const record = await store.findById(id)
      if (!record) return refused('not_found')
      if (record.revokedAt !== null) return refused('revoked')
      if (await this.isLastAdmin(store, record)) return refused('last_admin')
      if (!(await store.revoke(id, this.clock.now()))) return refused('revoked')
      return done(record)
    })
    if (!outcome.ok) return outcome
    await this.changedHere()
    await this.audit?.admin({ action: 'key.revoke', actor, keyId: id, keyPrefix: outcome.value.prefix })
    return done((await this.store.findById(id))!)
  }

  /**
   * Changes a key. Refused for a revoked key, and when the change would disable the last
   * active admin key or take its admin scope. Audited as `key.disable` / `key.enable` when
   * only `disabled` changes, else as `key.update` with the changes.
   */
  async update(id: string, update: KeyUpdate, actor: Actor = 'system'): Promise<ChangeResult<ApiKeyRecord>> {
    // An expiry counts: when it passed, the key would be gone just the same.
    const losesAdmin =
      update.disabled === true ||
      (update.scopes !== undefined && !update.scopes.includes('admin')) ||
      (update.expiresAt !== undefined && update.expiresAt !== null)
    let changes = update as KeyChanges
    const outcome = await this.store.exclusive(async (store): Promise<ChangeResult<ApiKeyRecord>> => {
      const record = await store.findById(id)
      if (!record) return refused('not_found')
      if (record.revokedAt !== null) return refused('revoked')
      if (losesAdmin && (await this.isLastAdmin(store, record))) return refused('last_admin')
      // An edit of the limits reads the ones stored under the same lock, so none is lost to a concurrent change.
      if (typeof update.limits === 'function') changes = { ...update, limits: update.limits(record.limits) }
      if (!(await store.update(id, changes, this.clock.now(), record.credits))) return refused('not_found')
      return done(record)
    })
    if (!outcome.ok) return outcome
    const record = outcome.value
    await this.changedHere()
    const onlyEnabled = Object.keys(changes).length === 1 && changes.disabled !== undefined
    const action = onlyEnabled ? (changes.disabled ? 'key.disable' : 'key.enable') : 'key.update'
    await this.audit?.admin({ action, actor, keyId: id, keyPrefix: record.prefix, ...(!onlyEnabled && { detail: { ...changes } }) })
    return done((await this.store.findById(id))!)
  }

  /**
   * Replaces a key by a new one with the same settings (name, owner, scopes, models, limits,
   * expiry, metadata, enabled). The old key is accepted until `graceMs` from now (0: refused
   * at once) and shows as `rotated`. Refused for revoked keys and keys already rotated.
   */
  async rotate(id: string, graceMs: number, actor: Actor = 'system'): Promise<ChangeResult<Rotation>> {
    const old = await this.store.findById(id)
    if (!old) return refused('not_found')
    if (old.revokedAt !== null) return refused('revoked')
    if (old.rotatedTo !== null) return refused('rotated')
    const now = this.clock.now()
    const created = this.newKey(old, now)
    const graceEndsAt = now + graceMs
    if (!(await this.store.rotate(id, created.record, graceEndsAt, now))) return refused('rotated')
    await this.changedHere()
    await this.audit?.admin({
      action: 'key.rotate',
      actor,
      keyId: id,
      keyPrefix: old.prefix,
      detail: { rotatedTo: created.record.id, rotatedToPrefix: created.record.prefix, graceEndsAt },
    })
    return done({ created, previous: (await this.store.findById(id))! })
  }

  /**
   * True when `record` is the last active admin key, or the last one without an expiry (the
   * others will expire, so losing it would leave no admin key in the end). Asked inside
   * `store.exclusive`, so two requests cannot each remove one of the last two.
   */
  private async isLastAdmin(store: KeyStore, record: ApiKeyRecord): Promise<boolean> {
    const now = this.clock.now()
    const active = (key: ApiKeyRecord) => key.scopes.includes('admin') && keyStatus(key, now) === 'active'
    const lasting = (key: ApiKeyRecord) => active(key) && key.expiresAt === null
    if (!active(record)) return false
    const others = (await store.adminCandidates()).filter((other) => other.id !== record.id)
    return !others.some(active) || (lasting(record) && !others.some(lasting))
  }

  /** An owner's shared limits, or undefined when none were ever set. */
  owner(id: string): Promise<OwnerRecord | undefined> {
    return this.store.findOwner(id)
  }

  /** Sets (null: clears) how many requests of all keys of an owner may be in flight at once; applied within a second. */
  async setOwnerConcurrency(owner: string, concurrency: number | null, actor: Actor = 'system'): Promise<OwnerRecord> {
    await this.store.exclusive((store) => store.setOwnerConcurrency(owner, concurrency, this.clock.now()))
    await this.changedHere()
    await this.audit?.admin({ action: 'owner.update', actor, keyId: null, keyPrefix: null, detail: { owner, concurrency } })
    return (await this.store.findOwner(owner))!
  }

  /**
   * Changes (null: removes) the credit balance every key of an owner takes from; whether there is
   * one is applied within a second. Throws `CreditsError` for a change that cannot be made.
   */
  async setOwnerCredits(owner: string, change: CreditsChange, actor: Actor = 'system'): Promise<OwnerRecord> {
    await this.store.exclusive(async (store) =>
      store.setOwnerCredits(owner, change, (await store.findOwner(owner))?.credits ?? null, this.clock.now()),
    )
    await this.changedHere()
    await this.audit?.admin({ action: 'owner.update', actor, keyId: null, keyPrefix: null, detail: { owner, credits: change } })
    return (await this.store.findOwner(owner))!
  }

  /** Sets (null: clears) the addresses every key of an owner may be used from; applied within a second. */
  async setOwnerAllowedIps(owner: string, allowedIps: string[] | null, actor: Actor = 'system'): Promise<OwnerRecord> {
    await this.store.exclusive((store) => store.setOwnerAllowedIps(owner, allowedIps, this.clock.now()))
    await this.changedHere()
    await this.audit?.admin({ action: 'owner.update', actor, keyId: null, keyPrefix: null, detail: { owner, allowedIps } })
    return (await this.store.findOwner(owner))!
  }

  /**
   * Sets (null: clears) the limits shared by every key of an owner, or computes them from the
   * current ones (an edit); applied within a second.
   */
  async setOwnerLimits(owner: string, change: LimitRule[] | null | LimitsChange, actor: Actor = 'system'): Promise<OwnerRecord> {
    const limits = await this.store.exclusive(async (store) => {
      const limits = typeof change === 'function' ? change((await store.findOwner(owner))?.limits ?? null) : change
      await store.setOwnerLimits(owner, limits, this.clock.now())
      return limits
    })
    await this.changedHere()
    await this.audit?.admin({ action: 'owner.update', actor, keyId: null, keyPrefix: null, detail: { owner, limits } })
    return (await this.store.findOwner(owner))!
  }

  /** A key by its id, whatever its status; undefined when there is none. */
  get(id: string): Promise<ApiKeyRecord | undefined> {
    return this.store.findById(id)
  }

  /** A page of the keys that match `filter` now, newest first, and how many match in all. */
  page(filter: KeyFilter, offset: number, limit: number): Promise<{ keys: ApiKeyRecord[]; total: number }> {
    return this.store.page(filter, this.clock.now(), offset, limit)
  }

  /**
   * A key's lineage: its id, then the keys it replaced by rotation, newest first (what it
   * inherited: async jobs). At most 100 generations.
   */
  async lineage(id: string): Promise<string[]> {
    const ids = [id]
    for (
      let previous = await this.store.predecessorOf(id);
      previous && ids.length < 100;
      previous = await this.store.predecessorOf(previous)
    )
      ids.push(previous)
    return ids
  }

  /** The key now standing for `id`: itself, or the key its rotations led to (at most 100 steps). */
  async current(id: string): Promise<ApiKeyRecord | undefined> {
    let record = await this.store.findById(id)
    for (let steps = 0; record?.rotatedTo && steps < 100; steps++) record = await this.store.findById(record.rotatedTo)
    return record
  }

  /** Keys in use (not revoked or rotated) whose expiry falls in (from, to]: for expiry notices. */
  expiringBetween(from: number, to: number): Promise<ApiKeyRecord[]> {
    return this.store.expiringBetween(from, to)
  }

  /** Every key of an owner, whatever its status, newest first. */
  listByOwner(owner: string): Promise<ApiKeyRecord[]> {
    return this.store.listByOwner(owner)
  }

  /**
   * A key by its id with its owner's shared limits and its limit groups, whatever its status;
   * undefined when there is none. For callers without a request: the job worker, the admin view.
   */
  async getWithLimits(id: string): Promise<KeyWithLimits | undefined> {
    const record = await this.store.findById(id)
    if (!record) return undefined
    const principal = await this.principalOf(record)
    return { record, principal, groups: this.limitGroups(principal) }
  }

  /**
   * The limit groups a request of `principal` is counted against: its key's own limits (or the
   * server's defaults), then its owner's shared limits when it has some. Asked on every
   * request, so built once per principal.
   */
  limitGroups(principal: Principal): readonly LimitGroup[] {
    let groups = this.groups.get(principal)
    if (groups === undefined) this.groups.set(principal, (groups = limitGroups(principal, this.defaultLimits)))
    return groups
  }

  /** The key a presented string is, by its digest (no status check): for leak response. */
  findByKey(presented: string): Promise<ApiKeyRecord | undefined> {
    return this.store.findByHash(hashKey(presented))
  }

  /** True when the store holds no key at all, in any state. */
  async isEmpty(): Promise<boolean> {
    return (await this.store.count()) === 0
  }

  /**
   * Creates an all-scopes key when the store has none: the first start's way in. The count and
   * the insert hold the store's write lock together, so instances started at once on an empty
   * PostgreSQL make exactly one.
   */
  async bootstrapIfEmpty(): Promise<CreatedKey | undefined> {
    const created = await this.store.exclusive(async (store) => {
      if ((await store.count()) > 0) return undefined
      const fresh = this.newKey({ name: 'bootstrap-admin', scopes: ['admin', 'predict'] }, this.clock.now())
      await store.insert(fresh.record)
      return fresh
    })
    if (!created) return undefined
    await this.changedHere()
    await this.audit?.admin({
      action: 'key.create',
      actor: 'bootstrap',
      keyId: created.record.id,
      keyPrefix: created.record.prefix,
      detail: { name: created.record.name, owner: created.record.owner, scopes: created.record.scopes },
    })
    return created
  }

  /**
   * Checks a presented key. Answers synchronously from the cache when it can (the hot path);
   * otherwise returns a promise that consults the store.
   */
  verify(presented: string): VerifyResult | Promise<VerifyResult> {
    if (!isWellFormedKey(presented)) return { ok: false, reason: 'malformed' }
    const digest = hashKey(presented)
    const cached = this.cache.get(digest)
    if (cached) {
      this.cacheStats.hits++
      return this.judge(digest, cached)
    }
    this.cacheStats.misses++
    return this.lookup(digest)
  }

  private async lookup(digest: string): Promise<VerifyResult> {
    const record = await this.store.findByHash(digest)
    const entry: CacheEntry = record ? { record, principal: await this.principalOf(record) } : { record: null }
    this.cache.set(digest, entry, record ? {} : { ttl: this.negativeTtlMs })
    return this.judge(digest, entry)
  }

  private async principalOf(record: ApiKeyRecord): Promise<Principal> {
    const owner = await this.store.findOwner(record.owner)
    return toPrincipal(record, owner ?? null)
  }

  private judge(digest: string, entry: CacheEntry): VerifyResult {
    // The cache is keyed by digest already; comparing again in constant time keeps the
    // decision itself free of timing differences, whatever the store's index does.
    if (entry.record === null || !digestsEqual(entry.record.keyHash, digest)) return { ok: false, reason: 'unknown' }
    const now = this.clock.now()
    const refusal = refusalOf(entry.record, now)
    if (refusal !== null) return { ok: false, reason: refusal, keyId: entry.record.id }
    this.lastUsed.set(entry.record.id, now)
    return { ok: true, principal: entry.principal }
  }

  // After a change made through this service: forget what was cached, and take the new
  // fingerprint as known so that the next external change is judged against it.
  private async changedHere(): Promise<void> {
    this.cache.clear()
    this.keysVersion = await this.store.version()
  }

  private async dropCacheIfKeysChanged(): Promise<void> {
    const version = await this.store.version()
    if (version !== this.keysVersion) this.cache.clear()
    this.keysVersion = version
  }

  /** Writes the last-use times gathered since the previous flush. */
  async flushLastUsed(): Promise<void> {
    if (this.lastUsed.size === 0) return
    const batch = new Map(this.lastUsed)
    this.lastUsed.clear()
    try {
      await this.store.touch(batch)
    } catch (error) {
      // Keep the times for the next flush unless a newer use replaced them meanwhile.
      for (const [id, at] of batch) if (!this.lastUsed.has(id)) this.lastUsed.set(id, at)
      throw error
    }
  }

  async close(): Promise<void> {
    clearInterval(this.touchTimer)
    this.stopWatching()
    await this.flushLastUsed()
  }
}

function toPrincipal(record: ApiKeyRecord, owner: OwnerRecord | null): Principal {
  const { id: keyId, prefix, name, scopes, limits, models, allowedIps, concurrency } = record
  return {
    keyId,
    prefix,
    name,
    scopes,
    limits,
    models,
    owner: record.owner,
    ownerLimits: owner?.limits ?? null,
    allowedIps,
    ownerAllowedIps: owner?.allowedIps ?? null,
    concurrency,
    ownerConcurrency: owner?.concurrency ?? null,
    credits: record.credits?.unit ?? null,
    ownerCredits: owner?.credits?.unit ?? null,
  }
}
