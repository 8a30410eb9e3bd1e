/**
 * Real servers for the reliability scenarios: keys created on the store beforehand (no
 * bootstrap banner), the server's output kept for the security scan, its peak memory read
 * from /proc.
 */
import fs from 'node:fs'
import { openDatabase } from '../../src/db/database.js'
import type { Scope } from '../../src/keys/types.js'
import { KeyService } from '../../src/keys/service.js'
import { systemClock } from '../../src/lib/clock.js'
import type { LimitRule } from '../../src/ratelimit/policy.js'
import type { RunningServer } from '../integration/process.js'
import { startServer } from '../integration/process.js'
import { artifactSubdir, rememberKeys, saveArtifact } from './report.js'

export interface Store {
  dataDir: string
  databaseUrl?: string
}

export interface KeySpec {
  name: string
  scopes?: Scope[]
  limits?: LimitRule[] | null
  expiresAt?: number | null
  /** Revoked right after its creation. */
  revoked?: boolean
}

/** A new SQLite data directory inside the artifacts directory (scanned afterwards). */
export function newDataDir(name: string): string {
  return artifactSubdir(`data-${name}`)
}

/** Creates keys directly on the store; returns the plaintext keys and their ids in the order asked. */
export async function createKeyRecords(store: Store, specs: KeySpec[]): Promise<{ key: string; id: string }[]> {
  const db = await openDatabase({ dataDir: store.dataDir, databaseUrl: store.databaseUrl ?? '' })
  const service = new KeyService({ db, clock: systemClock, defaultLimits: [] })
  const keys: { key: string; id: string }[] = []
  try {
    for (const spec of specs) {
      const created = await service.create({
        name: spec.name,
        scopes: spec.scopes ?? ['predict'],
        limits: spec.limits ?? null,
        expiresAt: spec.expiresAt ?? null,
      })
      if (spec.revoked) await service.revoke(created.record.id)
      keys.push({ key: created.key, id: created.record.id })
    }
  } finally {
    await service.close()
    await db.close()
  }
  rememberKeys(...keys.map(({ key }) => key))
  return keys
}

/** Creates keys directly on the store; returns the plaintext keys in the order asked. */
export async function createKeys(store: Store, specs: KeySpec[]): Promise<string[]> {
  return (await createKeyRecords(store, specs)).map(({ key }) => key)
}

/** Generous limits so that the scenarios measure what they mean to, not the key's limit. */
export const UNLIMITED: LimitRule[] = [{ name: 'minute', limit: 100_000_000, windowMs: 60_000 }]

export interface ReliabilityServer extends RunningServer {
  port: number
  pid: number
  /** Peak resident memory so far (VmHWM), in MiB. */
  peakRssMb(): number
  /** Stops with the signal and keeps the output for the security scan. */
  stopAndKeep(signal?: NodeJS.Signals): Promise<number | null>
}

/** Starts `infergate serve` with the store's flags, no bootstrap, and a huge auth-failure limit. */
export async function startReliabilityServer(
  name: string,
  store: Store,
  args: string[] = [],
  env: NodeJS.ProcessEnv = {},
): Promise<ReliabilityServer> {
  const storeArgs = ['--data-dir', store.dataDir, ...(store.databaseUrl ? ['--database-url', store.databaseUrl] : [])]
  const server = await startServer([...storeArgs, '--no-bootstrap', '--auth-fail-limit', '100000000/1m', ...args], env)
  const pid = server.child.pid!
  let kept = false
  return {
    ...server,
    port: Number(new URL(server.url).port),
    pid,
    peakRssMb() {
      try {
        const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8')
        return Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024
      } catch {
        return 0
      }
    },
    async stopAndKeep(signal = 'SIGTERM') {
      const code = await server.stop(signal)
      if (!kept) {
        kept = true
        saveArtifact(`${name}-stdout`, server.stdout())
        saveArtifact(`${name}-stderr`, server.stderr())
      }
      return code
    },
  }
}
