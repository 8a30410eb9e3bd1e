/**
 * The SQLite store holds key digests and the audit log: its files are for the server's user
 * only. They are created 0600 (SQLite gives its -wal and -shm files the database file's mode),
 * existing ones are tightened, and a data directory that others can enter is reported.
 */
import fs from 'node:fs'

const OWNER_ONLY = 0o600

/** Creates `file` 0600 when absent; takes group and other permissions off it and its WAL/SHM files. */
export function restrictStoreFiles(file: string): void {
  fs.closeSync(fs.openSync(file, 'a', OWNER_ONLY))
  for (const each of [file, `${file}-wal`, `${file}-shm`]) {
    try {
      if ((fs.statSync(each).mode & 0o077) !== 0) fs.chmodSync(each, OWNER_ONLY)
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'ENOENT') throw error
    }
  }
}

/** A warning when other users can list or enter `dir` (mode beyond 0700); undefined otherwise. */
export function dataDirWarning(dir: string): string | undefined {
  const mode = fs.statSync(dir).mode & 0o777
  if ((mode & 0o077) === 0) return undefined
  return `the data directory ${dir} is open to other users (mode ${mode.toString(8).padStart(4, '0')}): run chmod 700 on it`
}
