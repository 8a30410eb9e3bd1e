import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { openDatabase } from '../../src/db/database.js'
import { dataDirWarning } from '../../src/db/file-modes.js'
import { tempDir } from '../helper.js'

const othersBits = (file: string) => fs.statSync(file).mode & 0o077

test('the SQLite file and its WAL and SHM files are for the owner only (0600), also when they existed with wider modes', async () => {
  const dir = tempDir()
  const file = path.join(dir, 'infergate.db')
  let db = await openDatabase({ dataDir: dir })
  await db.kysely.insertInto('owners').values({ id: 'o', limits: null, created_at: 1, updated_at: 1 }).execute()
  for (const each of [file, `${file}-wal`, `${file}-shm`]) assert.equal(othersBits(each), 0, each)
  await db.close()
  fs.chmodSync(file, 0o644)
  db = await openDatabase({ dataDir: dir })
  assert.equal(othersBits(file), 0)
  await db.close()
})

test('a data directory that others can enter is reported, naming it and the fix; 0700 is not', () => {
  const dir = tempDir()
  fs.chmodSync(dir, 0o755)
  assert.match(dataDirWarning(dir) ?? '', new RegExp(`${dir}.*mode 0755.*chmod 700`))
  fs.chmodSync(dir, 0o700)
  assert.equal(dataDirWarning(dir), undefined)
})
