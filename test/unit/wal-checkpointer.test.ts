/**
 * SQLite's WAL checkpoints run on a thread of their own (`db/wal-checkpointer.ts`): the main
 * thread's connection checkpoints only past 64 MB (each 4 MB it checkpointed stalled its event
 * loop ~15-20 ms), yet the log is copied into the database and started over.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { sql } from 'kysely'
import { openDatabase } from '../../src/db/database.js'
import { SQLITE_FILE } from '../../src/db/data-dir.js'
import { tempDir } from '../helper.js'
import { walSequence } from './wal-header.js'

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

test('the main connection does not checkpoint below 64 MB; past 4 MB of log a thread does, and the log starts over', async () => {
  const dataDir = tempDir()
  const db = await openDatabase({ dataDir, databaseUrl: '' })
  const wal = path.join(dataDir, `${SQLITE_FILE}-wal`)
  try {
    const pragma = async (name: string) =>
      Object.values((await sql.raw(`pragma ${name}`).execute(db.kysely)).rows[0] as object)[0] as number
    assert.equal(await pragma('wal_autocheckpoint'), 16_384, 'the main connection checkpoints only as a backstop, past 64 MB')
    await sql`create table filler (data blob)`.execute(db.kysely)
    const insert = () => sql`insert into filler values (randomblob(${256 * 1024}))`.execute(db.kysely)
    const started = walSequence(wal)
    for (let i = 0; i < 24; i++) await insert() // 6 MB, in transactions of their own
    assert.ok(fs.statSync(wal).size > 6_000_000)
    // The log starts over (its header's checkpoint sequence moves) only once all of it was
    // copied into the database: here, by the thread.
    let sequence = started
    for (let tries = 0; tries < 100 && sequence === started; tries++) {
      await delay(100)
      await sql`delete from filler where rowid = (select min(rowid) from filler)`.execute(db.kysely)
      sequence = walSequence(wal)
    }
    assert.notEqual(sequence, started, 'the log was checkpointed and started over')
    const rows = await sql<{ n: number }>`select count(*) as n from filler`.execute(db.kysely)
    assert.ok(Number(rows.rows[0]!.n) > 0, 'no data was lost')
  } finally {
    await db.close()
  }
  assert.equal(fs.existsSync(wal), false, 'closing the store checkpointed and removed the log')
})
