/**
 * Persistence of API keys over the shared query layer (SQLite or PostgreSQL alike).
 */
import type { Kysely, Selectable } from 'kysely'
import { sql } from 'kysely'
import type { CreditBalance, CreditsChange } from '../accounting/credits.js'
import { balanceOf, creditColumns } from '../accounting/credits.js'
import type { Database } from '../db/types.js'
import type { ApiKeysTable, DatabaseSchema } from '../db/schema.js'
import type { LimitRule } from '../ratelimit/policy.js'
import { KEY_PREFIX, visiblePrefix } from './format.js'
import type { ApiKeyRecord, KeyChanges, KeyFilter, KeyMetadata, OwnerRecord, Scope } from './types.js'

const json = <T>(text: string | null): T | null => (text === null ? null : (JSON.parse(text) as T))
const text = (value: unknown): string | null => (value === null || value === undefined ? null : JSON.stringify(value))

/** `%` and `_` taken literally in a LIKE pattern (escape character `!`). */
function likeLiteral(value: string): string {
  return value.replace(/[!%_]/g, (c) => `!${c}`)
}

type Row = Selectable<ApiKeysTable>

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    name: row.name,
    prefix: row.prefix,
    keyHash: row.key_hash,
    scopes: row.scopes.split(',').filter(Boolean) as Scope[],
    createdAt: Number(row.created_at),
    expiresAt: row.expires_at === null ? null : Number(row.expires_at),
    revokedAt: row.revoked_at === null ? null : Number(row.revoked_at),
    lastUsedAt: row.last_used_at === null ? null : Number(row.last_used_at),
    updatedAt: Number(row.updated_at),
    limits: json<LimitRule[]>(row.limits),
    models: json<string[]>(row.models),
    allowedIps: json<string[]>(row.allowed_ips),
    concurrency: row.max_concurrency === null ? null : Number(row.max_concurrency),
    owner: row.owner,
    metadata: json<KeyMetadata>(row.metadata),
    disabled: Number(row.disabled) === 1,
    rotatedTo: row.rotated_to,
    graceEndsAt: row.grace_ends_at === null ? null : Number(row.grace_ends_at),
    credits: balanceOf(row),
  }
}

/** The credit columns of a new row holding `balance`. */
function creditRow(balance: CreditBalance | null) {
  return {
    credits_remaining: balance?.remaining ?? null,
    credits_unit: balance?.unit === 'tokens' ? 'tokens' : null,
    credits_refill_amount: balance?.refill?.amount ?? null,
    credits_refill_ms: balance?.refill?.everyMs ?? null,
    credits_refilled_at: balance?.refill ? balance.refilledAt : null,
  }
}

function toRow(record: ApiKeyRecord): Row {
  return {
    id: record.id,
    name: record.name,
    prefix: record.prefix,
    key_hash: record.keyHash,
    scopes: record.scopes.join(','),
    created_at: record.createdAt,
    expires_at: record.expiresAt,
    revoked_at: record.revokedAt,
    last_used_at: record.lastUsedAt,
    updated_at: record.updatedAt,
    limits: text(record.limits),
    models: text(record.models),
    allowed_ips: text(record.allowedIps),
    max_concurrency: record.concurrency,
    owner: record.owner,
    metadata: text(record.metadata),
    disabled: record.disabled ? 1 : 0,
    rotated_to: record.rotatedTo,
    grace_ends_at: record.graceEndsAt,
    ...creditRow(record.credits),
  }
}

export class KeyStore {
  private readonly db: Kysely<DatabaseSchema>
  /** True for the store handed to `exclusive`'s work: its changes are announced after commit. */
  private readonly inTransaction: boolean

  /** Changes are announced to other processes, which drop their verification caches. */
  constructor(
    private readonly database: Database,
    transaction?: Kysely<DatabaseSchema>,
  ) {
    this.db = transaction ?? database.kysely
    this.inTransaction = transaction !== undefined
  }

  /**
   * Runs `work` on a store bound to one write transaction, which concurrent writers (other
   * requests, the CLI, other instances) wait for: a check and the write it allows cannot
   * interleave with another's. The change is announced once committed.
   */
  async exclusive<T>(work: (store: KeyStore) => Promise<T>): Promise<T> {
    const result = await this.database.writeTransaction((trx) => work(new KeyStore(this.database, trx)))
    await this.database.announceChange()
    return result
  }

  private async announce(): Promise<void> {
    if (!this.inTransaction) await this.database.announceChange()
  }

  async insert(record: ApiKeyRecord): Promise<void> {
    await this.db.insertInto('api_keys').values(toRow(record)).execute()
    await this.database.announceChange()
  }

  async findByHash(keyHash: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash).executeTakeFirst()
    return row && toRecord(row)
  }

  async findById(id: string): Promise<ApiKeyRecord | undefined> {
    const row = await this.db.selectFrom('api_keys').selectAll().where('id', '=', id).executeTakeFirst()
    return row && toRecord(row)
  }

  async count(): Promise<number> {
    const { n } = await this.db
      .selectFrom('api_keys')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    return Number(n)
  }

  /** Marks a key revoked; false when there is no such key or it was revoked already. */
  async revoke(id: string, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({ revoked_at: at, updated_at: at })
      .where('id', '=', id)
      .where('revoked_at', 'is', null)
      .executeTakeFirst()
    await this.announce()
    return Number(result.numUpdatedRows) > 0
  }

  /** Applies changes to a key; false when there is no such key. A credits change needs the balance read under the same lock. */
  async update(id: string, changes: KeyChanges, at: number, credits: CreditBalance | null = null): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.scopes !== undefined && { scopes: changes.scopes.join(',') }),
        ...(changes.expiresAt !== undefined && { expires_at: changes.expiresAt }),
        ...(changes.limits !== undefined && { limits: changes.limits === null ? null : JSON.stringify(changes.limits) }),
        ...(changes.models !== undefined && { models: text(changes.models) }),
        ...(changes.allowedIps !== undefined && { allowed_ips: text(changes.allowedIps) }),
        ...(changes.concurrency !== undefined && { max_concurrency: changes.concurrency }),
        ...(changes.metadata !== undefined && { metadata: text(changes.metadata) }),
        ...(changes.disabled !== undefined && { disabled: changes.disabled ? 1 : 0 }),
        ...(changes.credits !== undefined && creditColumns(changes.credits, credits, at)),
        updated_at: at,
      })
      .where('id', '=', id)
      .executeTakeFirst()
    await this.announce()
    return Number(result.numUpdatedRows) > 0
  }

  /** A page of keys matching `filter` at time `now`, newest first, and how many match in all. */
  async page(filter: KeyFilter, now: number, offset: number, limit: number): Promise<{ keys: ApiKeyRecord[]; total: number }> {
    const base = this.filtered(filter, now)
    const [rows, count] = await Promise.all([
      base.selectAll().orderBy('created_at', 'desc').orderBy('id', 'desc').offset(offset).limit(limit).execute(),
      base.select((eb) => eb.fn.countAll<number>().as('n')).executeTakeFirstOrThrow(),
    ])
    return { keys: rows.map(toRecord), total: Number(count.n) }
  }

  private filtered(filter: KeyFilter, now: number) {
    let query = this.db.selectFrom('api_keys')
    if (filter.owner !== undefined) query = query.where('owner', '=', filter.owner)
    if (filter.scope !== undefined) query = query.where(sql<string>`',' || scopes || ','`, 'like', `%,${filter.scope},%`)
    if (filter.q !== undefined && filter.q !== '') {
      const q = filter.q
      query = q.startsWith(KEY_PREFIX)
        ? query.where(sql<boolean>`prefix like ${likeLiteral(visiblePrefix(q))} || '%' escape '!'`)
        : query.where(sql<boolean>`lower(name) like ${`%${likeLiteral(q.toLowerCase())}%`} escape '!'`)
    }
    if (filter.status === undefined) return query
    // The same order as keyStatus: revoked, expired, disabled, rotated, active.
    const status = filter.status
    return query.where((eb) => {
      const revoked = eb('revoked_at', 'is not', null)
      const expired = eb.and([eb('expires_at', 'is not', null), eb('expires_at', '<=', now)])
      const disabled = eb('disabled', '=', 1)
      const rotated = eb('rotated_to', 'is not', null)
      const ladder = [revoked, expired, disabled, rotated]
      const index = ['revoked', 'expired', 'disabled', 'rotated', 'active'].indexOf(status)
      const earlier = ladder.slice(0, index).map((condition) => eb.not(condition))
      return eb.and(index < ladder.length ? [...earlier, ladder[index]!] : earlier)
    })
  }

  /** Every key of an owner, newest first. */
  async listByOwner(owner: string): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('owner', '=', owner)
      .orderBy('created_at', 'desc')
      .orderBy('id', 'desc')
      .execute()
    return rows.map(toRecord)
  }

  /** The key that `id` replaced by a rotation, if any. */
  async predecessorOf(id: string): Promise<string | undefined> {
    const row = await this.db.selectFrom('api_keys').select('id').where('rotated_to', '=', id).executeTakeFirst()
    return row?.id
  }

  /** Keys in use (not revoked or rotated) whose expiry falls in (from, to], soonest first. */
  async expiringBetween(from: number, to: number): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where('rotated_to', 'is', null)
      .where('expires_at', '>', from)
      .where('expires_at', '<=', to)
      .orderBy('expires_at')
      .execute()
    return rows.map(toRecord)
  }

  /** Keys with the admin scope that are not revoked, disabled or rotated (expiry is judged by the caller). */
  async adminCandidates(): Promise<ApiKeyRecord[]> {
    const rows = await this.db
      .selectFrom('api_keys')
      .selectAll()
      .where(sql<string>`',' || scopes || ','`, 'like', '%,admin,%')
      .where('revoked_at', 'is', null)
      .where('disabled', '=', 0)
      .where('rotated_to', 'is', null)
      .execute()
    return rows.map(toRecord)
  }

  /**
   * Inserts the new key of a rotation and marks the old one as replaced, in one transaction;
   * false (and nothing written) when the old key was revoked or rotated meanwhile.
   */
  async rotate(oldId: string, replacement: ApiKeyRecord, graceEndsAt: number, at: number): Promise<boolean> {
    const done = await this.db.transaction().execute(async (trx) => {
      const result = await trx
        .updateTable('api_keys')
        .set({ rotated_to: replacement.id, grace_ends_at: graceEndsAt, updated_at: at })
        .where('id', '=', oldId)
        .where('revoked_at', 'is', null)
        .where('rotated_to', 'is', null)
        .executeTakeFirst()
      if (Number(result.numUpdatedRows) === 0) return false
      await trx.insertInto('api_keys').values(toRow(replacement)).execute()
      // The balance moves to the new key, as it stands now (the old key's row is locked by the
      // update above, so no charge can slip in between); the old key keeps none of it: a
      // balance left on both would be spent twice during the grace period.
      await sql`update api_keys set (credits_remaining, credits_unit, credits_refill_amount, credits_refill_ms, credits_refilled_at) = (select credits_remaining, credits_unit, credits_refill_amount, credits_refill_ms, credits_refilled_at from api_keys where id = ${oldId}) where id = ${replacement.id}`.execute(
        trx,
      )
      await trx
        .updateTable('api_keys')
        .set({ credits_remaining: 0, credits_refill_amount: null, credits_refill_ms: null, credits_refilled_at: null })
        .where('id', '=', oldId)
        .where('credits_remaining', 'is not', null)
        .execute()
      return true
    })
    await this.database.announceChange()
    return done
  }

  async findOwner(id: string): Promise<OwnerRecord | undefined> {
    const row = await this.db.selectFrom('owners').selectAll().where('id', '=', id).executeTakeFirst()
    return (
      row && {
        id: row.id,
        limits: json<LimitRule[]>(row.limits),
        allowedIps: json<string[]>(row.allowed_ips),
        concurrency: row.max_concurrency === null ? null : Number(row.max_concurrency),
        credits: balanceOf(row),
        createdAt: Number(row.created_at),
        updatedAt: Number(row.updated_at),
      }
    )
  }

  /** Sets (or clears, with null) the addresses every key of an owner may be used from. */
  async setOwnerAllowedIps(id: string, allowedIps: string[] | null, at: number): Promise<void> {
    await this.db
      .insertInto('owners')
      .values({ id, limits: null, allowed_ips: text(allowedIps), created_at: at, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ allowed_ips: text(allowedIps), updated_at: at }))
      .execute()
    await this.announce()
  }

  /** Sets (or clears, with null) how many requests of all keys of an owner may be in flight at once. */
  async setOwnerConcurrency(id: string, concurrency: number | null, at: number): Promise<void> {
    await this.db
      .insertInto('owners')
      .values({ id, limits: null, max_concurrency: concurrency, created_at: at, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ max_concurrency: concurrency, updated_at: at }))
      .execute()
    await this.announce()
  }

  /** Changes (or removes, with null) an owner's credit balance; `current` is the balance read under the same lock. */
  async setOwnerCredits(id: string, change: CreditsChange, current: CreditBalance | null, at: number): Promise<void> {
    const columns = creditColumns(change, current, at)
    await this.db
      .insertInto('owners')
      .values({ id, limits: null, allowed_ips: null, created_at: at, updated_at: at })
      .onConflict((oc) => oc.column('id').doNothing())
      .execute()
    await this.db
      .updateTable('owners')
      .set({ ...columns, updated_at: at })
      .where('id', '=', id)
      .execute()
    await this.announce()
  }

  /** Sets (or clears, with null) an owner's shared limits. */
  async setOwnerLimits(id: string, limits: LimitRule[] | null, at: number): Promise<void> {
    await this.db
      .insertInto('owners')
      .values({ id, limits: text(limits), created_at: at, updated_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ limits: text(limits), updated_at: at }))
      .execute()
    await this.announce()
  }

  /**
   * A fingerprint of every key's creation, change and revocation, and of every owner's limits
   * (not of last-use times): it differs whenever one of them changed since it was last read.
   */
  async version(): Promise<string> {
    const [keys, owners] = await Promise.all(
      (['api_keys', 'owners'] as const).map((table) =>
        this.db
          .selectFrom(table)
          .select((eb) => [
            eb.fn.countAll<number>().as('n'),
            eb.fn.max('updated_at').as('latest'),
            sql<number>`sum(updated_at % 65536)`.as('spread'),
          ])
          .executeTakeFirstOrThrow(),
      ),
    )
    return [keys!, owners!].map((row) => `${row.n}:${row.latest ?? 0}:${row.spread ?? 0}`).join('/')
  }

  /** Records last-use times collected in memory, in one transaction. */
  async touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size === 0) return
    await this.db.transaction().execute(async (trx) => {
      // In id order: instances flushing the same keys at once (PostgreSQL) then lock the rows in
      // the same order and wait for each other instead of deadlocking.
      for (const [id, at] of [...lastUsed].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
        await trx.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute()
      }
    })
  }
}
