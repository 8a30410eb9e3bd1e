/**
 * One server per SQLite store. Two servers on one data directory would each keep their own
 * in-memory limits, so every limit would silently double; the second one refuses to start,
 * naming the first, unless limits are shared through Redis (`--redis-url`).
 *
 * The lock is a file, `server.lock` in the data directory, created exclusively and holding the
 * owner's pid, host and port. A lock whose process is gone (a crash, SIGKILL) is taken over.
 * Written here rather than with `proper-lockfile`: that library tells a stale lock by its age
 * (it must be touched every few seconds) and cannot name the process that holds it, which is
 * what the operator needs to read.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { StartupError } from '../lib/startup-error.js'
import { explainOpenError } from './open-errors.js'

const LOCK_FILE = 'server.lock'

interface LockOwner {
  pid: number
  host: string
  /** The address it listens on, once it does. */
  listening?: string
}

export interface ServerLock {
  /** Records where the server listens, for the message a second server prints. */
  listening(address: string): void
  /** Removes the lock if it is still this process's. */
  release(): void
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

function readOwner(file: string): LockOwner | null {
  try {
    const owner = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<LockOwner>
    return typeof owner.pid === 'number' && typeof owner.host === 'string' ? (owner as LockOwner) : null
  } catch {
    return null
  }
}

/** True when the owner is certainly gone: a dead process on this host, or this very process (a reused pid). */
function stale(owner: LockOwner | null): boolean {
  if (!owner) return true
  if (owner.host !== os.hostname()) return false
  return owner.pid === process.pid || !alive(owner.pid)
}

function refusal(owner: LockOwner, dataDir: string, file: string): StartupError {
  const where = owner.listening ? `, listening on ${owner.listening}` : ''
  const elsewhere = owner.host === os.hostname() ? '' : ` on host ${owner.host} (if it is gone, delete ${file})`
  return new StartupError(
    `another infergate server (pid ${owner.pid}${where})${elsewhere} serves the SQLite store in ${dataDir}: two servers on one store would each keep their own limits, doubling them; stop it, choose another --data-dir, or share limits with --redis-url`,
  )
}

/** Takes the data directory's server lock, or throws a StartupError naming its owner. */
export function lockStore(dataDir: string): ServerLock {
  const dir = path.resolve(dataDir)
  const file = path.join(dir, LOCK_FILE)
  const owner: LockOwner = { pid: process.pid, host: os.hostname() }
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 })
  } catch (error) {
    throw explainOpenError(error, { dataDir })
  }
  for (let attempt = 0; ; attempt++) {
    try {
      fs.writeFileSync(file, JSON.stringify(owner), { flag: 'wx', mode: 0o600 })
      break
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw explainOpenError(error, { dataDir })
      const holder = readOwner(file)
      // Two servers racing for one stale lock: the second attempt reads the winner's file.
      if (!stale(holder) || attempt > 0) throw refusal(holder ?? { pid: 0, host: '?' }, dir, file)
      fs.rmSync(file, { force: true })
    }
  }
  return {
    listening(address) {
      try {
        fs.writeFileSync(file, JSON.stringify({ ...owner, listening: address }), { mode: 0o600 })
      } catch {
        // Only for the message a second server prints (a full disk must not stop this one).
      }
    },
    release() {
      if (readOwner(file)?.pid === process.pid) fs.rmSync(file, { force: true })
    },
  }
}
