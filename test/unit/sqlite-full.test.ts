/**
 * A full SQLite database (reached for real through max_page_count) fails a transaction with
 * SQLITE_FULL, which the HTTP layer answers 503, and not with the "no transaction is active"
 * of a second rollback after SQLite already rolled back by itself.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { sql } from 'kysely'
import { openDatabase } from '../../src/db/database.js'
import { isStoreUnavailable } from '../../src/db/unavailable.js'
import { tempDir } from '../helper.js'

test('a transaction on a full SQLite database fails with SQLITE_FULL, and the store works again once there is room', async () => {
  const db = await openDatabase({ dataDir: tempDir() })
  try {
    await sql`create table filler (x blob)`.execute(db.kysely)
    const { rows } = await sql<{ page_count: number }>`pragma page_count`.execute(db.kysely)
    await sql.raw(`pragma max_page_count = ${rows[0]!.page_count + 20}`).execute(db.kysely)
    const failure = await db.kysely
      .transaction()
      .execute(async (trx) => {
        for (let i = 0; i < 100; i++) await sql`insert into filler values (randomblob(100000))`.execute(trx)
      })
      .then(
        () => undefined,
        (error: unknown) => error as NodeJS.ErrnoException,
      )
    assert.ok(failure, 'the transaction failed')
    assert.equal(failure.code, 'SQLITE_FULL', failure.message)
    assert.equal(isStoreUnavailable(failure), true)
    await sql.raw('pragma max_page_count = 1073741823').execute(db.kysely)
    await db.kysely.transaction().execute((trx) => sql`insert into filler values (randomblob(10))`.execute(trx))
  } finally {
    await db.close()
  }
})
