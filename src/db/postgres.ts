/**
 * PostgreSQL, for several instances sharing one store: a `pg` pool for queries, and one
 * dedicated connection LISTENing for change notifications, so that a key revoked through one
 * instance (or the CLI) is dropped from every instance's cache at once. While that connection
 * is down, caches are dropped every second instead (the polling fallback), and once more when
 * it is back, for what was missed.
 */
import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import type { Database } from './types.js'
import { migrateToLatest } from './migrations.js'
import { redactUrl } from '../lib/redact-url.js'
import type { DatabaseSchema } from './schema.js'

const CHANNEL = 'infergate_changes'
const FALLBACK_POLL_MS = 1000
const RECONNECT_MS = 1000
// An arbitrary constant naming infergate's write lock among the database's advisory locks.
const WRITE_LOCK = 0x1f6a7e
// PostgreSQL takes at most 65,535 parameters per statement; audit rows have about 20 columns.
const INSERT_ROWS = 1000

// BIGINT (epoch milliseconds, counts) arrives as a string by default; every value we store
// fits a double exactly.
pg.types.setTypeParser(pg.types.builtins.INT8, (value: string) => Number(value))

export async function openPostgres(url: string): Promise<Database> {
  const pool = new pg.Pool({ connectionString: url, max: 10, connectionTimeoutMillis: 5000, idleTimeoutMillis: 30_000 })
  // Idle clients that lose their connection emit errors; queries report their own.
  pool.on('error', () => {})
  // A client checked out of the pool has no error listener (pg-pool removes its own until the
  // client is released), and pg emits 'error' when the server goes away mid-query or
  // mid-transaction: unheard, that event killed the process when PostgreSQL restarted. The
  // query in flight fails with the same error, and the pool drops the broken client on release.
  pool.on('connect', (client) => client.on('error', () => {}))
  const kysely = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) })
  try {
    const { rows } = await sql<{ schema: string }>`select current_schema() as schema`.execute(kysely)
    await migrateToLatest(kysely as Kysely<unknown>, rows[0]?.schema)
  } catch (error) {
    await kysely.destroy()
    throw error
  }
  return new PostgresDatabase(kysely, url)
}

class PostgresDatabase implements Database {
  readonly dialect = 'postgres' as const
  readonly location: string
  private readonly listeners = new Set<() => void>()
  private client: pg.Client | undefined
  private connecting: pg.Client | undefined
  private closed = false
  private fallback: NodeJS.Timeout | undefined

  constructor(
    readonly kysely: Kysely<DatabaseSchema>,
    private readonly url: string,
  ) {
    this.location = redactUrl(url)
  }

  onExternalChange(listener: () => void): () => void {
    this.listeners.add(listener)
    if (!this.client && !this.connecting) void this.listen()
    return () => this.listeners.delete(listener)
  }

  private notify(): void {
    for (const listener of this.listeners) listener()
  }

  private async listen(): Promise<void> {
    if (this.closed) return
    const client = new pg.Client({ connectionString: this.url })
    this.connecting = client
    client.on('error', () => this.lost(client))
    client.on('end', () => this.lost(client))
    client.on('notification', () => this.notify())
    try {
      await client.connect()
      await client.query(`LISTEN ${CHANNEL}`)
      if (this.closed) throw new Error('closed while connecting')
      this.client = client
      this.stopFallback()
      // Whatever happened while nobody listened.
      this.notify()
    } catch {
      void client.end().catch(() => {})
      if (!this.closed) {
        this.startFallback()
        setTimeout(() => void this.listen(), RECONNECT_MS).unref()
      }
    } finally {
      this.connecting = undefined
    }
  }

  private lost(client: pg.Client): void {
    if (this.client !== client) return
    this.client = undefined
    if (this.closed) return
    this.startFallback()
    setTimeout(() => void this.listen(), RECONNECT_MS).unref()
  }

  private startFallback(): void {
    this.fallback ??= setInterval(() => this.notify(), FALLBACK_POLL_MS).unref()
  }

  private stopFallback(): void {
    clearInterval(this.fallback)
    this.fallback = undefined
  }

  async announceChange(): Promise<void> {
    await sql`select pg_notify(${CHANNEL}, '')`.execute(this.kysely)
  }

  // Appends to the audit chain must be serialised across instances: each write transaction
  // takes one transaction-scoped advisory lock before it reads the chain's head.
  writeTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute(async (trx) => {
      await sql`select pg_advisory_xact_lock(${WRITE_LOCK})`.execute(trx)
      return work(trx)
    })
  }

  rowTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.kysely.transaction().execute(work)
  }

  async insertRows<T extends keyof DatabaseSchema>(
    trx: Kysely<DatabaseSchema>,
    table: T,
    columns: readonly (keyof DatabaseSchema[T] & string)[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void> {
    for (let start = 0; start < rows.length; start += INSERT_ROWS) {
      const values = rows.slice(start, start + INSERT_ROWS).map((row) => Object.fromEntries(columns.map((column, i) => [column, row[i]])))
      await trx
        .insertInto(table)
        .values(values as never)
        .execute()
    }
  }

  /** PostgreSQL's autovacuum reclaims dead rows by itself. */
  reclaimSpace(): Promise<void> {
    return Promise.resolve()
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.kysely)
  }

  async close(): Promise<void> {
    this.closed = true
    this.stopFallback()
    this.listeners.clear()
    const clients = [this.client, this.connecting]
    this.client = undefined
    for (const client of clients) if (client) await client.end().catch(() => {})
    await this.kysely.destroy()
  }
}
