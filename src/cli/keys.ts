/**
 * `infergate keys create|list|revoke`: manage API keys on the store directly, whether or not
 * a server is running (a running server sees changes within a second).
 */
import type { Command } from 'commander'
import { Option } from 'commander'
import { AuditStore } from '../audit/store.js'
import { countsByKeySince } from '../audit/usage.js'
import type { Config } from '../config.js'
import type { Database } from '../db/database.js'
import { openDatabase } from '../db/database.js'
import type { ChangeRefusal, CreatedKey } from '../keys/service.js'
import type { KeyChanges } from '../keys/store.js'
import { KeyService } from '../keys/service.js'
import type { ApiKeyRecord } from '../keys/types.js'
import { keyStatus, parseKeyName, parseScopes } from '../keys/types.js'
import type { KeyView } from '../keys/view.js'
import { keyView } from '../keys/view.js'
import { systemClock } from '../lib/clock.js'
import { parseExpiry } from '../lib/duration.js'
import { formatRule, parseRules } from '../ratelimit/policy.js'
import { parseModelList } from '../models/spec.js'
import { STORE_SETTINGS, addSettingOptions, configFrom, storeOptions } from './options.js'
import { CliError } from './run.js'
import { formatTime, renderTable } from './table.js'

const DAY_MS = 86_400_000

async function withKeys<T>(config: Config, use: (keys: KeyService, db: Database) => Promise<T>): Promise<T> {
  const db = await openDatabase(storeOptions(config))
  // Changes made here are audited at once, by actor 'cli', in the server's chain.
  const keys = new KeyService({ db, clock: systemClock, audit: new AuditStore(db).directSink(systemClock) })
  try {
    return await use(keys, db)
  } finally {
    await keys.close()
    await db.close()
  }
}

/** The one line a refused change prints. */
export function refusalError(id: string, reason: ChangeRefusal): CliError {
  switch (reason) {
    case 'not_found':
      return new CliError(`no key with id ${id}`)
    case 'revoked':
      return new CliError(`key ${id} was already revoked`)
    case 'rotated':
      return new CliError(`key ${id} was already rotated`)
    case 'last_admin':
      return new CliError(`key ${id} is the last active admin key: create another admin key first`)
  }
}

function usageError(what: string, error: unknown): CliError {
  return new CliError(`${what}: ${(error as Error).message}`, 2)
}

/** The JSON form of a key record for scripts: the admin API's key object. */
export function keyJson(record: ApiKeyRecord, now: number): KeyView {
  return keyView(record, now)
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value]
}

function limitsText(record: ApiKeyRecord): string {
  return record.limits ? record.limits.map(formatRule).join(',') : 'default'
}

function printCreated(created: CreatedKey, json: boolean): void {
  if (json) {
    console.log(JSON.stringify({ ...keyJson(created.record, Date.now()), key: created.key }))
    return
  }
  const { record } = created
  console.log(`Created key ${record.id} "${record.name}" (scopes: ${record.scopes.join(', ')}; limits: ${limitsText(record)}; expires: ${formatTime(record.expiresAt)})`)
  console.log(`\n    ${created.key}\n`)
  console.log('This is the only time the key is shown: it is not stored. Keep it in a secret manager.')
}

function registerCreate(keys: Command): void {
  const create = keys
    .command('create')
    .description('create a key and print it once')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--scopes <list>', 'comma-separated scopes: predict, admin', 'predict')
    .option('--expires <when>', 'expiry: a duration from now (30d, 12h) or an ISO date')
    .addOption(new Option('--limit <rule>', 'a limit such as 60/1m or day=10000/1d; repeat for several').argParser(collect).default([], "the server's"))
    .option('--models <list>', 'comma-separated models the key may use (default: all)')
    .option('--json', 'print one JSON object with id and key')
  addSettingOptions(create, STORE_SETTINGS)
  create.action(async (options: { name: string; scopes: string; expires?: string; limit: string[]; models?: string; json?: boolean }, command: Command) => {
    let input
    try {
      input = {
        name: parseKeyName(options.name),
        scopes: parseScopes(options.scopes),
        expiresAt: options.expires === undefined ? null : parseExpiry(options.expires, Date.now()),
        limits: options.limit.length > 0 ? parseRules(options.limit) : null,
        models: options.models === undefined ? null : parseModelList(options.models),
      }
    } catch (error) {
      throw usageError('invalid option', error)
    }
    const created = await withKeys(configFrom(command), (service) => service.create(input, 'cli'))
    printCreated(created, options.json === true)
  })
}

function registerList(keys: Command): void {
  const list = keys.command('list').description('list keys with their last use and requests in the last 24 hours (never the keys themselves)').option('--json', 'print a JSON array')
  addSettingOptions(list, STORE_SETTINGS)
  list.action(async (options: { json?: boolean }, command: Command) => {
    const now = Date.now()
    const [records, counts] = await withKeys(configFrom(command), async (service, db) =>
      Promise.all([service.list(), countsByKeySince(db.kysely, now - DAY_MS)]))
    const day = (id: string) => {
      const byOutcome = counts.get(id) ?? {}
      const requests = Object.values(byOutcome).reduce((sum, n) => sum + n, 0)
      return { requests, refused: requests - (byOutcome.ok ?? 0), by_outcome: byOutcome }
    }
    if (options.json === true) {
      console.log(JSON.stringify(records.map((record) => ({ ...keyJson(record, now), last_24h: day(record.id) }))))
      return
    }
    const rows = records.map((r) => [
      r.id, r.name, r.prefix, r.scopes.join(','), keyStatus(r, now),
      formatTime(r.createdAt), formatTime(r.expiresAt), formatTime(r.lastUsedAt),
      String(day(r.id).requests), String(day(r.id).refused), limitsText(r),
    ])
    const headers = ['ID', 'NAME', 'PREFIX', 'SCOPES', 'STATUS', 'CREATED', 'EXPIRES', 'LAST USED', '24H REQUESTS', '24H REFUSED', 'LIMITS']
    console.log(renderTable(headers, rows))
  })
}

function registerRevoke(keys: Command): void {
  const revoke = keys.command('revoke').description('revoke a key for good').argument('<id>', 'the key id (key_...)')
    .option('--json', 'print the revoked key as JSON')
  addSettingOptions(revoke, STORE_SETTINGS)
  revoke.action(async (id: string, options: { json?: boolean }, command: Command) => {
    const result = await withKeys(configFrom(command), (service) => service.revoke(id, 'cli'))
    if (!result.ok) throw refusalError(id, result.reason)
    if (options.json === true) console.log(JSON.stringify(keyJson(result.value, Date.now())))
    else console.log(`Revoked ${id}: it is refused from now on (a running server sees this within a second).`)
  })
}

interface UpdateOptions {
  name?: string
  scopes?: string
  expires?: string | false
  limit: string[]
  defaultLimits?: boolean
  models?: string
  allModels?: boolean
  json?: boolean
}

function parseChanges(options: UpdateOptions): KeyChanges {
  if (options.limit.length > 0 && options.defaultLimits) throw new Error('--limit and --default-limits exclude each other')
  const changes: KeyChanges = {}
  if (options.name !== undefined) changes.name = parseKeyName(options.name)
  if (options.scopes !== undefined) changes.scopes = parseScopes(options.scopes)
  if (options.expires === false) changes.expiresAt = null
  else if (options.expires !== undefined) changes.expiresAt = parseExpiry(options.expires, Date.now())
  if (options.limit.length > 0) changes.limits = parseRules(options.limit)
  if (options.defaultLimits) changes.limits = null
  if (options.models !== undefined && options.allModels) throw new Error('--models and --all-models exclude each other')
  if (options.models !== undefined) changes.models = parseModelList(options.models)
  if (options.allModels) changes.models = null
  if (Object.keys(changes).length === 0) throw new Error('nothing to change: give --name, --scopes, --expires, --limit, --default-limits, --models or --all-models')
  return changes
}

function registerUpdate(keys: Command): void {
  const update = keys
    .command('update')
    .description("change a key's name, scopes, expiry or limits (a running server applies it within a second)")
    .argument('<id>', 'the key id (key_...)')
    .option('--name <name>', 'new name')
    .option('--scopes <list>', 'new comma-separated scopes')
    .option('--expires <when>', 'new expiry: a duration from now or an ISO date')
    .option('--no-expires', 'never expire')
    .addOption(new Option('--limit <rule>', "replace the key's limits (repeat for several), e.g. --limit 60/1m --limit day=10000/1d").argParser(collect).default([], 'unchanged'))
    .option('--default-limits', 'drop the key\'s own limits: the server\'s defaults apply')
    .option('--models <list>', 'restrict the key to these comma-separated models')
    .option('--all-models', 'let the key use every model')
    .option('--json', 'print the key as JSON')
  addSettingOptions(update, STORE_SETTINGS)
  update.action(async (id: string, options: UpdateOptions, command: Command) => {
    let changes: KeyChanges
    try {
      changes = parseChanges(options)
    } catch (error) {
      throw usageError('invalid option', error)
    }
    const result = await withKeys(configFrom(command), (service) => service.update(id, changes, 'cli'))
    if (!result.ok) throw refusalError(id, result.reason)
    const record = result.value
    if (options.json === true) console.log(JSON.stringify(keyJson(record, Date.now())))
    else console.log(`Updated ${id}: scopes ${record.scopes.join(',')}; limits ${limitsText(record)}; expires ${formatTime(record.expiresAt)}`)
  })
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list, update and revoke API keys')
  registerCreate(keys)
  registerList(keys)
  registerUpdate(keys)
  registerRevoke(keys)
}
