/** What the `keys` and `owners` commands share: opening the key service, printing keys, refusals. */
import type { Command } from 'commander'
import { AuditStore } from '../audit/store.js'
import type { Config } from '../config.js'
import type { Database } from '../db/types.js'
import type { ChangeRefusal } from '../keys/refusals.js'
import { changeRefusalMessage } from '../keys/refusals.js'
import { KeyService } from '../keys/service.js'
import type { ApiKeyRecord } from '../keys/types.js'
import { keyStatus } from '../keys/types.js'
import { keyView } from '../keys/view.js'
import { systemClock } from '../lib/clock.js'
import { formatDuration } from '../lib/duration.js'
import type { LimitRule } from '../ratelimit/policy.js'
import { formatRule } from '../ratelimit/policy.js'
import { WebhookEventLog } from '../webhooks/events.js'
import { STORE_SETTINGS, addSettingOptions } from './options.js'
import type { StoreAccess } from './store-access.js'
import { openStore } from './store-access.js'
import { creditsText } from './credits.js'
import { CliError } from './run.js'
import { formatTime } from './table.js'

/**
 * Runs `use` with a key service on the configured store; changes are audited by actor `cli`.
 * A command that only reads refuses a store that does not exist (instead of creating an empty
 * one and listing nothing); one that writes creates it and says where (see `openStore`).
 */
export async function withKeys<T>(
  config: Config,
  use: (keys: KeyService, db: Database) => Promise<T>,
  access: StoreAccess = 'read',
): Promise<T> {
  const db = await openStore(config, access)
  // Changes made here are audited at once, by actor 'cli', in the server's chain.
  const keys = new KeyService({
    db,
    clock: systemClock,
    defaultLimits: config.defaultLimits,
    // Revocations and rotations also become webhook events, sent by a server on this store.
    audit: new WebhookEventLog(db.kysely, systemClock).tap(new AuditStore(db).directSink(systemClock)),
  })
  try {
    return await use(keys, db)
  } finally {
    await keys.close()
    await db.close()
  }
}

/** A command taking the store settings and `--json`. */
export function storeCommand(parent: Command, name: string, description: string): Command {
  const command = parent.command(name).description(description).option('--json', 'print JSON for scripts')
  addSettingOptions(command, STORE_SETTINGS)
  return command
}

function usageError(what: string, error: unknown): CliError {
  return new CliError(`${what}: ${(error as Error).message}`, 2)
}

/** Parses options with `parse`; a failure exits with code 2 and one line. */
export function parseOptions<T>(parse: () => T): T {
  try {
    return parse()
  } catch (error) {
    throw usageError('invalid option', error)
  }
}

/** The one line a refused change prints (exit code 1). */
export function refusalError(id: string, reason: ChangeRefusal): CliError {
  return new CliError(changeRefusalMessage(id, reason))
}

export function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

export function limitsText(limits: readonly LimitRule[] | null, none = 'default'): string {
  return limits ? limits.map(formatRule).join(',') : none
}

/** The status, with the end of a rotation's grace period while it lasts. */
export function statusText(record: ApiKeyRecord, now: number): string {
  const status = keyStatus(record, now)
  if (status !== 'rotated' || record.graceEndsAt === null || record.graceEndsAt <= now) return status
  return `rotated (works ${formatDuration(record.graceEndsAt - now)} more)`
}

/** A key as `field: value` lines (never the key itself). */
export function keyLines(record: ApiKeyRecord, now: number): string {
  const fields: [string, string][] = [
    ['id', record.id],
    ['name', record.name],
    ['owner', record.owner],
    ['prefix', record.prefix],
    ['status', statusText(record, now)],
    ['scopes', record.scopes.join(',')],
    ['models', record.models?.join(',') ?? 'all'],
    ['allowed ips', record.allowedIps?.join(',') ?? 'any'],
    ['concurrency', record.concurrency === null ? 'no cap' : `${record.concurrency} in flight`],
    ['limits', limitsText(record.limits)],
    ['credits', creditsText(record.credits, now)],
    ['metadata', record.metadata === null ? '-' : JSON.stringify(record.metadata)],
    ['created', formatTime(record.createdAt)],
    ['updated', formatTime(record.updatedAt)],
    ['expires', formatTime(record.expiresAt)],
    ['revoked', formatTime(record.revokedAt)],
    ['last used', formatTime(record.lastUsedAt)],
    ...(record.rotatedTo !== null
      ? ([
          ['rotated to', record.rotatedTo],
          ['grace ends', formatTime(record.graceEndsAt)],
        ] as [string, string][])
      : []),
  ]
  const width = Math.max(...fields.map(([label]) => label.length))
  return fields.map(([label, value]) => `${`${label}:`.padEnd(width + 2)}${value}`).join('\n')
}

/** Prints a key as JSON (the admin API's key object) or as lines. */
export function printKey(record: ApiKeyRecord, json: boolean, headline?: string): void {
  const now = Date.now()
  if (json) {
    console.log(JSON.stringify(keyView(record, now)))
    return
  }
  if (headline) console.log(headline)
  console.log(keyLines(record, now))
}
