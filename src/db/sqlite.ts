/**
 * The embedded store: one SQLite file in WAL mode, one connection per process. Changes made
 * by other processes are seen through SQLite's `data_version`, polled every 200 ms.
 */
import fs from 'node:fs'
import path from 'node:path'
import { isMainThread } from 'node:worker_threads'
import SQLite from 'better-sqlite3'
import type { DatabaseConnection, Driver } from 'kysely'
import { Kysely, SqliteDialect, SqliteDriver, sql } from 'kysely'
import type { Database } from './types.js'
import { SQLITE_FILE } from './data-dir.js'
import { migrateToLatest } from './migrations.js'
import type { DatabaseSchema } from './schema.js'
import { restrictStoreFiles } from './file-modes.js'
import { WalCheckpointer } from './wal-checkpointer.js'

const CHANGE_POLL_MS = 200

export async function openSqlite(dataDir: string): Promise<Database> {
  fs.mkdirSync(dataDir, { recursive: true, mode: 0o700 })
  const file = path.join(dataDir, SQLITE_FILE)
  restrictStoreFiles(file)
  const sqlite = new SQLite(file)
  // Only takes effect on a new, empty file (an existing one would need a full VACUUM): freed
  // pages can then be given back to the file system by reclaimSpace(). Either way SQLite
  // reuses freed pages for new rows.
  sqlite.pragma('auto_vacuum = INCREMENTAL')
  sqlite.pragma('journal_mode = WAL')
  restrictStoreFiles(file)
  sqlite.pragma('synchronous = NORMAL')
  sqlite.pragma('busy_timeout = 5000')
  sqlite.pragma('foreign_keys = ON')
  // Worker threads (the audit store's) may checkpoint as they commit; the main thread must not stall on it.
  const checkpointer = isMainThread ? new WalCheckpointer(sqlite, file) : undefined
  const kysely = new Kysely<DatabaseSchema>({ dialect: new StoreSqliteDialect(sqlite) })
  try {
    await migrateToLatest(kysely as Kysely<unknown>)
  } catch (error) {
    await checkpointer?.close()
    await kysely.destroy()
    throw error
  }
  return new SqliteDatabase(kysely, sqlite, file, checkpointer)
}

/**
 * SQLite rolls a transaction back by itself after some errors (a full disk, an I/O error):
 * Kysely's own rollback then fails with "no transaction is active", and that error replaced
 * the real one (answered 500 instead of 503 on a full disk). Roll back only what is open.
 */
class RollbackOnlyWhenOpenDriver extends SqliteDriver {
  constructor(private readonly sqlite: SQLite.Database) {
    super({ database: sqlite })
  }

  override async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    if (this.sqlite.inTransaction) await super.rollbackTransaction(connection)
  }
}

class StoreSqliteDialect extends SqliteDialect {
  constructor(private readonly sqlite: SQLite.Database) {
    super({ database: sqlite })
  }

  override createDriver(): Driver {
    return new RollbackOnlyWhenOpenDriver(this.sqlite)
  }
}

class SqliteDatabase implements Database {
  readonly dialect = 'sqlite' as const
  private readonly listeners = new Set<() => void>()
  private readonly inserts = new Map<string, SQLite.Statement>()
  private timer: NodeJS.Timeout | undefined
  private lastVersion: number

  constructor(
    readonly kysely: Kysely<DatabaseSchema>,
    private readonly sqlite: SQLite.Database,
    readonly location: string,
    private readonly checkpointer: WalCheckpointer | undefined,
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

  // Other processes see the commit itself through data_version; nothing to send.
  announceChange(): Promise<void> {
    return Promise.resolve()
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

  // One connection: its write lock is the only one there is.
  rowTransaction<T>(work: (trx: Kysely<DatabaseSchema>) => Promise<T>): Promise<T> {
    return this.writeTransaction(work)
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

  reclaimSpace(): Promise<void> {
    this.sqlite.pragma('incremental_vacuum')
    return Promise.resolve()
  }

  async close(): Promise<void> {
    this.stopPolling()
    this.listeners.clear()
    await this.checkpointer?.close()
    await this.kysely.destroy()
  }
}
