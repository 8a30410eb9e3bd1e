/**
 * How CLI commands open the store: the one the server uses (found as `findDataDir` says when
 * no `--data-dir` is given), never a new, empty one by accident. Reading commands refuse a
 * SQLite store that does not exist; writing commands create it, say so, and name the store in
 * their output (`storeName`).
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Config } from '../config.js'
import type { Database } from '../db/types.js'
import { openDatabase } from '../db/database.js'
import { SQLITE_FILE } from '../db/data-dir.js'
import { storeName, storeOptions } from './options.js'
import { CliError } from './run.js'

export type StoreAccess = 'read' | 'write'

export async function openStore(config: Config, access: StoreAccess): Promise<Database> {
  if (!config.databaseUrl && !fs.existsSync(path.join(config.dataDir, SQLITE_FILE))) {
    const dir = path.resolve(config.dataDir)
    if (access === 'read')
      throw new CliError(
        `no store in ${dir} (no .infergate directory here or in a parent): run the command where the server runs, or pass its --data-dir or --database-url`,
      )
    process.stderr.write(`infergate: no store in ${dir} yet: creating one; the server sees it only with the same --data-dir\n`)
  }
  return openDatabase(storeOptions(config))
}

/** The last line of a writing command's human output: which store it changed. */
export function storeLine(config: Config): string {
  return `store: ${storeName(config)}`
}
