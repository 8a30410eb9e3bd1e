/**
 * Why a store could not be opened, as one line naming the setting and what to do: the
 * start-up contract of docs/configuration.md. Errors not listed here pass through unchanged
 * (the CLI then prints them with their stack: they are bugs, not settings).
 */
import path from 'node:path'
import { redactUrl } from '../lib/redact-url.js'
import { StartupError } from '../lib/startup-error.js'
import type { DatabaseOptions } from './types.js'

interface CodedError {
  code?: string
  message?: string
}

/** File-system and SQLite codes → what is wrong with the data directory, and what to do. */
const SQLITE_ADVICE: Record<string, string> = {
  ENOTDIR: 'a part of the path is a file, not a directory: choose another --data-dir',
  EEXIST: 'the path is a file, not a directory: choose another --data-dir',
  EACCES: 'permission denied: make the directory writable by this user, or choose another --data-dir',
  EPERM: 'permission denied: make the directory writable by this user, or choose another --data-dir',
  EROFS: 'the file system is read-only: choose a writable --data-dir',
  ENOSPC: 'the disk is full: free some space, or choose another --data-dir',
  SQLITE_CANTOPEN:
    'the database file cannot be opened (permissions, or a directory in its place): check the directory, or choose another --data-dir',
  SQLITE_READONLY: 'the database file is read-only: make it writable by this user',
  SQLITE_NOTADB: 'infergate.db there is not an SQLite database: move it away, or choose another --data-dir',
  SQLITE_CORRUPT: 'the database file is damaged: restore it from a backup (docs/deploy.md), or choose another --data-dir',
  SQLITE_FULL: 'the disk is full: free some space, or choose another --data-dir',
  SQLITE_IOERR: 'the disk answered with an I/O error: check the disk, or choose another --data-dir',
}

/** Connection and server error codes of PostgreSQL → what is wrong with --database-url. */
const POSTGRES_ADVICE: Record<string, string> = {
  ECONNREFUSED: 'nothing answers at that address: start PostgreSQL, or fix the host and port in --database-url',
  ENOTFOUND: 'the host name is unknown: fix the host in --database-url',
  EAI_AGAIN: 'the host name could not be resolved: check DNS, or the host in --database-url',
  ETIMEDOUT: 'the connection timed out: check that PostgreSQL runs and that the network lets you reach it',
  EHOSTUNREACH: 'the host cannot be reached: check the network, or the host in --database-url',
  '3D000': 'the database does not exist: create it (createdb NAME), or fix its name in --database-url',
  '28P01': 'the password was refused: fix the user or password in --database-url',
  '28000': 'the server refused this user: fix the user in --database-url, or the server’s pg_hba.conf',
  '42501': 'the user may not create tables in that schema: grant it CREATE, or use a schema it owns (docs/deploy.md)',
  '53300': 'the server has no free connection: raise max_connections, or stop idle clients',
  '57P03': 'the server is starting up or shutting down: try again in a moment',
}

function codeOf(error: unknown): string {
  const { code, message } = (error ?? {}) as CodedError
  if (code) return code.startsWith('SQLITE_IOERR') ? 'SQLITE_IOERR' : code
  // pg reports a connection timeout without a code.
  return /timeout/i.test(message ?? '') ? 'ETIMEDOUT' : ''
}

/** The error to report for a store that could not be opened: a StartupError when the cause is known. */
export function explainOpenError(error: unknown, options: DatabaseOptions): unknown {
  const code = codeOf(error)
  if (options.databaseUrl) {
    const advice = POSTGRES_ADVICE[code]
    return advice ? new StartupError(`cannot open the PostgreSQL store ${redactUrl(options.databaseUrl)}: ${advice} (${code})`) : error
  }
  const advice = SQLITE_ADVICE[code]
  return advice ? new StartupError(`cannot open the SQLite store in ${path.resolve(options.dataDir)}: ${advice} (${code})`) : error
}
