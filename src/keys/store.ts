/**
 * Persistence of API keys over the shared query layer (SQLite or PostgreSQL alike).
 */
import type { Kysely, Selectable } from 'kysely'
import { sql } from 'kysely'
import type { Database } from '../db/database.js'
import type { ApiKeysTable, DatabaseSchema } from '../db/schema.js'
import type { LimitRule } from '../ratelimit/policy.js'
import type { ApiKeyRecord, Scope } from './types.js'

/** Fields of a key that can change after creation. */
export interface KeyChanges {
  name?: string
  scopes?: Scope[]
  expiresAt?: number | null
  limits?: LimitRule[] | null
  models?: string[] | null
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
    limits: row.limits === null ? null : (JSON.parse(row.limits) as LimitRule[]),
    models: row.models === null ? null : (JSON.parse(row.models) as string[]),
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
    limits: record.limits === null ? null : JSON.stringify(record.limits),
    models: record.models === null ? null : JSON.stringify(record.models),
  }
}

export class KeyStore {
  private readonly db: Kysely<DatabaseSchema>

  /** Changes are announced to other processes, which drop their verification caches. */
  constructor(private readonly database: Database) {
    this.db = database.kysely
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

  /** Every key, oldest first. */
  async list(): Promise<ApiKeyRecord[]> {
    const rows = await this.db.selectFrom('api_keys').selectAll().orderBy('created_at').orderBy('id').execute()
    return rows.map(toRecord)
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
    await this.database.announceChange()
    return Number(result.numUpdatedRows) > 0
  }

  /** Applies changes to a key; false when there is no such key. */
  async update(id: string, changes: KeyChanges, at: number): Promise<boolean> {
    const result = await this.db
      .updateTable('api_keys')
      .set({
        ...(changes.name !== undefined && { name: changes.name }),
        ...(changes.scopes !== undefined && { scopes: changes.scopes.join(',') }),
        ...(changes.expiresAt !== undefined && { expires_at: changes.expiresAt }),
        ...(changes.limits !== undefined && { limits: changes.limits === null ? null : JSON.stringify(changes.limits) }),
        ...(changes.models !== undefined && { models: changes.models === null ? null : JSON.stringify(changes.models) }),
        updated_at: at,
      })
      .where('id', '=', id)
      .executeTakeFirst()
    await this.database.announceChange()
    return Number(result.numUpdatedRows) > 0
  }

  /**
   * A fingerprint of every key's creation, change and revocation (not of last-use times): it
   * differs whenever a key was added, removed, updated or revoked since it was last read.
   */
  async version(): Promise<string> {
    const row = await this.db
      .selectFrom('api_keys')
      .select((eb) => [eb.fn.countAll<number>().as('n'), eb.fn.max('updated_at').as('latest'), sql<number>`sum(updated_at % 65536)`.as('spread')])
      .executeTakeFirstOrThrow()
    return `${row.n}:${row.latest ?? 0}:${row.spread ?? 0}`
  }

  /** Records last-use times collected in memory, in one transaction. */
  async touch(lastUsed: ReadonlyMap<string, number>): Promise<void> {
    if (lastUsed.size === 0) return
    await this.db.transaction().execute(async (trx) => {
      for (const [id, at] of lastUsed) {
        await trx.updateTable('api_keys').set({ last_used_at: at }).where('id', '=', id).execute()
      }
    })
  }
}
