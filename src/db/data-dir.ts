/**
 * Where the SQLite store is when neither `--data-dir` nor `INFERGATE_DATA_DIR` says: the
 * nearest `.infergate` directory in the working directory or one of its parents (as git finds
 * `.git`), else `.infergate` in the working directory. The server and every CLI command find it
 * the same way, so `cd docs && infergate keys create` writes to the store the server uses
 * instead of a new, empty one beside it.
 */
import fs from 'node:fs'
import path from 'node:path'

const DEFAULT_DATA_DIR = '.infergate'

/** The SQLite store's file inside the data directory (with its `-wal` and `-shm` beside it). */
export const SQLITE_FILE = 'infergate.db'

function isDirectory(dir: string): boolean {
  try {
    return fs.statSync(dir).isDirectory()
  } catch {
    return false
  }
}

/** The nearest existing `.infergate` from `cwd` upwards, or `cwd/.infergate`; always absolute. */
export function findDataDir(cwd: string = process.cwd()): string {
  for (let dir = path.resolve(cwd); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, DEFAULT_DATA_DIR)
    if (isDirectory(candidate)) return candidate
    if (path.dirname(dir) === dir) return path.resolve(cwd, DEFAULT_DATA_DIR)
  }
}
