/**
 * API key use cases shared by the HTTP API and the CLI: create, list, revoke, verify.
 *
 * Verification is on every request's path, so it is cached: parse and checksum (no I/O),
 * SHA-256, a bounded in-memory cache keyed by the digest, and only then the store. The cache
 * is dropped whenever another process changes the store, so a revocation made with the CLI
 * takes effect within the store's change-poll interval.
 */
import { LRUCache } from 'lru-cache'
import type { AuditSink } from '../audit/writer.js'
import type { Database } from '../db/database.js'
import type { Clock } from '../lib/clock.js'
import { generateKey, isWellFormedKey, randomId, visiblePrefix } from './format.js'
import { digestsEqual, hashKey } from './hash.js'
import type { LimitRule } from '../ratelimit/policy.js'
import type { KeyChanges } from './store.js'
import { KeyStore } from './store.js'
import type { ApiKeyRecord, Principal, Scope, VerifyResult } from './types.js'
import { keyStatus } from './types.js'

export interface KeyServiceOptions {
  db: Database
  clock: Clock
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
}

export interface CreatedKey {
  /** The plaintext key: shown once to whoever created it, never stored. */
  key: string
  record: ApiKeyRecord
}

type CacheEntry = { record: ApiKeyRecord; principal: Principal } | { record: null }

export class KeyService {
  readonly store: KeyStore
  private readonly clock: Clock
  private readonly cache: LRUCache<string, CacheEntry>
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
    const key = generateKey()
    const now = this.clock.now()
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
    }
    await this.store.insert(record)
    await this.changedHere()
    const { name, scopes, expiresAt, limits } = record
    await this.audit?.admin({ action: 'key.create', actor, keyId: record.id, keyPrefix: record.prefix, detail: { name, scopes, expiresAt, limits } })
    return { key, record }
  }

  /** Revokes a key; false when it does not exist or was revoked already. */
  async revoke(id: string, actor: Actor = 'system'): Promise<boolean> {
    const revoked = await this.store.revoke(id, this.clock.now())
    if (!revoked) return false
    await this.changedHere()
    if (this.audit) {
      const record = await this.store.findById(id)
      await this.audit.admin({ action: 'key.revoke', actor, keyId: id, keyPrefix: record?.prefix ?? '' })
    }
    return true
  }

  /** Changes a key; returns it as it now is, or undefined when there is no such key. */
  async update(id: string, changes: KeyChanges, actor: Actor = 'system'): Promise<ApiKeyRecord | undefined> {
    if (!(await this.store.update(id, changes, this.clock.now()))) return undefined
    await this.changedHere()
    const record = await this.store.findById(id)
    await this.audit?.admin({ action: 'key.update', actor, keyId: id, keyPrefix: record?.prefix ?? '', detail: { ...changes } })
    return record
  }

  list(): Promise<ApiKeyRecord[]> {
    return this.store.list()
  }

  /** Creates an all-scopes key when the store has none: the first start's way in. */
  async bootstrapIfEmpty(): Promise<CreatedKey | undefined> {
    if ((await this.store.count()) > 0) return undefined
    return this.create({ name: 'bootstrap-admin', scopes: ['admin', 'predict'] }, 'bootstrap')
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
    const record = (await this.store.findByHash(digest)) ?? null
    const entry: CacheEntry = record ? { record, principal: toPrincipal(record) } : { record: null }
    this.cache.set(digest, entry, record ? {} : { ttl: this.negativeTtlMs })
    return this.judge(digest, entry)
  }

  private judge(digest: string, entry: CacheEntry): VerifyResult {
    // The cache is keyed by digest already; comparing again in constant time keeps the
    // decision itself free of timing differences, whatever the store's index does.
    if (entry.record === null || !digestsEqual(entry.record.keyHash, digest)) return { ok: false, reason: 'unknown' }
    const now = this.clock.now()
    const status = keyStatus(entry.record, now)
    if (status !== 'active') return { ok: false, reason: status, keyId: entry.record.id }
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

function toPrincipal(record: ApiKeyRecord): Principal {
  return { keyId: record.id, prefix: record.prefix, name: record.name, scopes: record.scopes, limits: record.limits, models: record.models }
}
