/**
 * Opens the store behind keys and the audit log (and later jobs): one Kysely query layer, with the
 * dialect chosen from configuration. Stores never branch on the dialect.
 */
import fs from 'node:fs'
import path from 'node:path'
import SQLite from 'better-sqlite3'
import { Kysely, SqliteDialect, sql } from 'kysely'
import { migrateToLatest } from './migrations.js'
import type { DatabaseSchema } from './schema.js'

export interface DatabaseOptions {
  dataDir: string
}

/** A handle on the store shared by every service of one process. */
export interface Database {
  readonly kysely: Kysely<DatabaseSchema>
  readonly location: string
  /**
   * Calls `listener` soon after another process (the CLI, another server) commits a change.
   * Returns a function that stops listening.
   */
  onExternalChange(listener: () => void): () => void
  /**
   * Runs `work` in a transaction that holds the write lock from its first statement, so that
   * what it reads cannot be changed by another process before it writes (the audit chain's
   * head). Rolls back when `work` throws.
   */
  writeTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T>
  /**
   * Inserts rows given as arrays of values in `columns` order, inside `writeTransaction`
   * (`trx` is its handle), as cheaply as the store allows: the audit log's hot path, where
   * building and preparing SQL for every batch cost several times more than the writes.
   */
  insertRows<T extends keyof DatabaseSchema>(
    trx: Kysely<DatabaseSchema>,
    table: T,
    columns: readonly (keyof DatabaseSchema[T] & string)[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void>
  /** Resolves when the store answers a trivial query. */
  ping(): Promise<void>
  close(): Promise<void>
}

export const SQLITE_FILE = 'infergate.db'
const CHANGE_POLL_MS = 200

/** Opens (creating if needed) the embedded SQLite store in `dataDir` and migrates it. */
export async function openDatabase(options: DatabaseOptions): Promise<Database> {
  fs.mkdirSync(options.dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(options.dataDir, SQLITE_FILE)
  const sqlite = new SQLite(file)
  sqlite.pragma('journal_mode = WAL')
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  const kysely = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database: sqlite }) })
  try {
    await migrateToLatest(kysely as Kysely<unknown>)
  } catch (error) {
    await kysely.destroy()
    throw error
  }
  return new SqliteDatabase(kysely, sqlite, file)
}

class SqliteDatabase implements Database {
  private readonly listeners = new Set<() => void>()
  private readonly inserts = new Map<string, SQLite.Statement>()
  private timer: NodeJS.Timeout | undefined
  private lastVersion: number

  constructor(
    readonly kysely: Kysely<DatabaseSchema>,
    private readonly sqlite: SQLite.Database,
    readonly location: string,
  ) {
    this.lastVersion = this.dataVersion()
  }

  // SQLite's data_version changes when another connection commits: a cheap, exact signal.
  private dataVersion(): number {
    return this.sqlite.pragma('data_version', { simple: true }) as number
  }

  onExternalChange(listener: () => void): () => void {
    this.listeners.add(listener)
    this.timer ??= setInterval(() => this.poll(), CHANGE_POLL_MS).unref()
    return () => {
      this.listeners.delete(listener)
      if (this.listeners.size === 0) this.stopPolling()
    }
  }

  private poll(): void {
    if (!this.sqlite.open) return
    const version = this.dataVersion()
    if (version === this.lastVersion) return
    this.lastVersion = version
    for (const listener of this.listeners) listener()
  }

  private stopPolling(): void {
    clearInterval(this.timer)
    this.timer = undefined
  }

  // A deferred transaction (Kysely's `begin`) that reads and then writes fails with
  // SQLITE_BUSY_SNAPSHOT under WAL when another process committed in between; IMMEDIATE takes
  // the lock up front and waits for it (busy_timeout) instead.
  writeTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.kysely.connection().execute(async (connection) => {
      await sql`begin immediate`.execute(connection)
      try {
        const result = await work(connection)
        await sql`commit`.execute(connection)
        return result
      } catch (error) {
        if (this.sqlite.inTransaction) await sql`rollback`.execute(connection)
        throw error
      }
    })
  }

  // One prepared statement per table and column list, bound by position: the same
  // connection as the transaction's, so the rows are part of it.
  insertRows<T extends keyof DatabaseSchema>(
    _trx: Kysely<DatabaseSchema>,
    table: T,
    columns: readonly (keyof DatabaseSchema[T] & string)[],
    rows: readonly (readonly unknown[])[],
  ): Promise<void> {
    const key = `${table}(${columns.join(',')})`
    let statement = this.inserts.get(key)
    if (!statement) {
      const names = columns.map((column) => `"${column}"`).join(', ')
      statement = this.sqlite.prepare(`insert into "${table}" (${names}) values (${columns.map(() => '?').join(', ')})`)
      this.inserts.set(key, statement)
    }
    for (const row of rows) statement.run(row)
    return Promise.resolve()
  }

  async ping(): Promise<void> {
    await sql`select 1`.execute(this.kysely)
  }

  async close(): Promise<void> {
    this.stopPolling()
    this.listeners.clear()
    await this.kysely.destroy()
  }
}
