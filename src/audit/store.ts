/**
 * Persistence of the audit log over the shared query layer (SQLite or PostgreSQL alike).
 * Appending is the only write: one transaction per batch that reads the head and chains the
 * batch after it.
 */
import type { Kysely, Selectable, SelectQueryBuilder } from 'kysely'
import type { Database } from '../db/types.js'
import type { Clock } from '../lib/clock.js'
import type { AuditLogTable, DatabaseSchema } from '../db/schema.js'
import type { EntryValues } from './canonical.js'
import { ENTRY_COLUMNS, entryValues } from './canonical.js'
import { GENESIS_HASH, chainAfter } from './chain.js'
import type { AdminAction, AdminEvent, AuditEntry, AuditRecord, Outcome, RecordKind } from './record.js'
import { adminEntry } from './record.js'
import type { AuditSink } from './writer.js'

type Row = Selectable<AuditLogTable>

const nullableNumber = (value: number | null) => (value === null ? null : Number(value))

function toRecord(row: Row): AuditRecord {
  return {
    seq: Number(row.seq),
    time: Number(row.time),
    kind: row.kind as RecordKind,
    requestId: row.request_id,
    keyId: row.key_id,
    keyPrefix: row.key_prefix,
    ip: row.ip,
    method: row.method,
    route: row.route,
    model: row.model,
    status: nullableNumber(row.status),
    outcome: row.outcome as Outcome,
    cost: Number(row.cost),
    latencyUs: nullableNumber(row.latency_us),
    texts: nullableNumber(row.texts),
    chars: nullableNumber(row.chars),
    action: row.action as AdminAction | null,
    actor: row.actor,
    detail: row.detail,
    tokensIn: nullableNumber(row.tokens_in),
    tokensOut: nullableNumber(row.tokens_out),
    prevHash: row.prev_hash,
    hash: row.hash,
  }
}

/** The stored row of a record (snake_case columns). */
export function toRow(record: AuditRecord): Row {
  return {
    seq: record.seq,
    time: record.time,
    kind: record.kind,
    request_id: record.requestId,
    key_id: record.keyId,
    key_prefix: record.keyPrefix,
    ip: record.ip,
    method: record.method,
    route: record.route,
    model: record.model,
    status: record.status,
    outcome: record.outcome,
    cost: record.cost,
    latency_us: record.latencyUs,
    texts: record.texts,
    chars: record.chars,
    action: record.action,
    actor: record.actor,
    detail: record.detail,
    tokens_in: record.tokensIn ?? null,
    tokens_out: record.tokensOut ?? null,
    prev_hash: record.prevHash,
    hash: record.hash,
  }
}

/** The table's columns in the order of a chained row. */
const COLUMNS = ['seq', ...ENTRY_COLUMNS, 'prev_hash', 'hash'] as const

/** Which records to read; times in ms, `since` inclusive and `until` exclusive. */
export interface AuditFilter {
  since?: number
  until?: number
  keyId?: string
  outcome?: Outcome
  kind?: RecordKind
  /** Only records after this sequence number (the paging cursor). */
  afterSeq?: number
  /** Only records before this sequence number (the cursor when paging newest first). */
  beforeSeq?: number
}

/** The last record of the chain: what an operator anchors. */
export interface ChainHead {
  seq: number
  hash: string
  time: number | null
}

export class AuditStore {
  private readonly kysely: Kysely<DatabaseSchema>

  constructor(private readonly db: Database) {
    this.kysely = db.kysely
  }

  /** Chains and stores entries in one transaction; returns the new head. */
  append(entries: readonly AuditEntry[]): Promise<ChainHead> {
    return this.appendValues(entries.map(entryValues))
  }

  /** The same for entries already in positional form (as the writer's worker receives them). */
  async appendValues(batch: readonly EntryValues[]): Promise<ChainHead> {
    // The head is read inside the transaction: other processes (the CLI) append too.
    return this.db.writeTransaction(async (trx) => {
      const head = await headOf(trx)
      if (batch.length === 0) return head
      const rows = chainAfter(head, batch)
      await this.db.insertRows(trx, 'audit_log', COLUMNS, rows)
      const last = rows[rows.length - 1]!
      return { seq: last[0] as number, hash: last[last.length - 1] as string, time: last[1] as number }
    })
  }

  /** A sink that appends each administrative action at once (the CLI: no buffer to lose). */
  directSink(clock: Clock): AuditSink {
    return {
      admin: async (event: AdminEvent) => {
        await this.append([adminEntry(clock.now(), event)])
      },
    }
  }

  /** The last record's sequence number and hash (seq 0 and the genesis hash when empty). */
  head(): Promise<ChainHead> {
    return headOf(this.kysely)
  }

  /** Records matching the filter in sequence order, at most `limit`. */
  async list(filter: AuditFilter, limit: number, order: 'asc' | 'desc' = 'asc'): Promise<AuditRecord[]> {
    const rows = await applyFilter(this.kysely.selectFrom('audit_log').selectAll(), filter).orderBy('seq', order).limit(limit).execute()
    return rows.map(toRecord)
  }

  /** The last `count` records, oldest first. */
  async last(count: number): Promise<AuditRecord[]> {
    const rows = await this.kysely.selectFrom('audit_log').selectAll().orderBy('seq', 'desc').limit(count).execute()
    return rows.map(toRecord).reverse()
  }

  /** Every record with this hash (normally none or one), in sequence order. */
  async findByHash(hash: string): Promise<AuditRecord[]> {
    const rows = await this.kysely.selectFrom('audit_log').selectAll().where('hash', '=', hash).orderBy('seq').execute()
    return rows.map(toRecord)
  }

  /** The first record after `seq`, if any. */
  async nextAfter(seq: number): Promise<AuditRecord | undefined> {
    const row = await this.kysely.selectFrom('audit_log').selectAll().where('seq', '>', seq).orderBy('seq').limit(1).executeTakeFirst()
    return row && toRecord(row)
  }

  async count(filter: AuditFilter = {}): Promise<number> {
    const { n } = await applyFilter(this.kysely.selectFrom('audit_log'), filter)
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .executeTakeFirstOrThrow()
    return Number(n)
  }
}

async function headOf(db: Kysely<DatabaseSchema>): Promise<ChainHead> {
  const row = await db.selectFrom('audit_log').select(['seq', 'hash', 'time']).orderBy('seq', 'desc').limit(1).executeTakeFirst()
  return row ? { seq: Number(row.seq), hash: row.hash, time: Number(row.time) } : { seq: 0, hash: GENESIS_HASH, time: null }
}

/** Adds the filter's conditions to a query on `audit_log`. */
function applyFilter<O>(query: SelectQueryBuilder<DatabaseSchema, 'audit_log', O>, filter: AuditFilter) {
  let q = query
  if (filter.since !== undefined) q = q.where('time', '>=', filter.since)
  if (filter.until !== undefined) q = q.where('time', '<', filter.until)
  if (filter.keyId !== undefined) q = q.where('key_id', '=', filter.keyId)
  if (filter.outcome !== undefined) q = q.where('outcome', '=', filter.outcome)
  if (filter.kind !== undefined) q = q.where('kind', '=', filter.kind)
  if (filter.afterSeq !== undefined) q = q.where('seq', '>', filter.afterSeq)
  if (filter.beforeSeq !== undefined) q = q.where('seq', '<', filter.beforeSeq)
  return q
}
