/**
 * `infergate keys create|list|show|update|rotate|disable|enable|revoke|find`: manage API keys
 * on the store directly, whether or not a server is running (a running server sees changes
 * within a second). Every command takes `--json`; every change is audited by actor `cli`.
 */
import type { Command } from 'commander'
import { Option } from 'commander'
import type { Outcome } from '../audit/record.js'
import type { Config } from '../config.js'
import { countsByKeySince, summarize } from '../audit/usage.js'
import type { CreatedKey } from '../keys/service.js'
import type { ApiKeyRecord, KeyFilter, KeyMetadata, KeyUpdate, Scope } from '../keys/types.js'
import { KEY_STATUSES, SCOPES, parseKeyName, parseMetadata, parseOwnerId, parseScopes } from '../keys/types.js'
import type { KeyView } from '../keys/view.js'
import { keyView, limitsView } from '../keys/view.js'
import { parseExpiry } from '../lib/duration.js'
import { parseModelList } from '../models/spec.js'
import { allowIpList } from './allow-ip.js'
import { CONCURRENCY_HELP, concurrencyChange, parseConcurrency } from './concurrency-option.js'
import type { CreditOptions } from './credits.js'
import { addCreateCreditOptions, addUpdateCreditOptions, creditsChange, creditsGuard, creditsText, newBalance } from './credits.js'
import { keyLimitsEdit } from '../ratelimit/limit-edit.js'
import { parseRules } from '../ratelimit/policy.js'
import { registerFind } from './keys-find.js'
import { addModelSettings, checkModels } from './known-models.js'
import { registerLifecycle } from './keys-lifecycle.js'
import type { LimitOptions } from './limit-options.js'
import { addLimitOptions, limitEditGuard, limitsChange, limitsGiven } from './limit-options.js'
import { collect, keyLines, limitsText, parseOptions, refusalError, statusText, storeCommand, withKeys } from './keys-common.js'
import { storeLine } from './store-access.js'
import { configFrom } from './options.js'
import { formatTime, renderTable } from './table.js'

const DAY_MS = 86_400_000

/** The JSON form of a key record for scripts: the admin API's key object. */
function keyJson(record: ApiKeyRecord, now: number): KeyView {
  return keyView(record, now)
}

/** Requests of the last 24 hours as every `--json` output shows usage: `since` (ISO), `requests`, `rejected`, `by_outcome`. */
function lastDay(now: number, counts: Iterable<Partial<Record<Outcome, number>>>) {
  return { since: new Date(now - DAY_MS).toISOString(), ...summarize(counts) }
}

/** `--metadata '{"plan":"pro"}'`: a JSON object of at most 4 KiB. */
function parseMetadataOption(raw: string): KeyMetadata {
  let value: unknown
  try {
    value = JSON.parse(raw)
  } catch {
    throw new Error('--metadata must be a JSON object, e.g. \'{"plan":"pro"}\'')
  }
  return parseMetadata(value)
}

function printCreated(created: CreatedKey, json: boolean, config: Config): void {
  if (json) {
    console.log(JSON.stringify({ ...keyJson(created.record, Date.now()), key: created.key }))
    return
  }
  const { record } = created
  console.log(
    `Created key ${record.id} "${record.name}" for owner ${record.owner} (scopes: ${record.scopes.join(', ')}; limits: ${limitsText(record.limits)}; credits: ${creditsText(record.credits, record.createdAt)}; expires: ${formatTime(record.expiresAt)})`,
  )
  console.log(`\n    ${created.key}\n`)
  console.log('This is the only time the key is shown: it is not stored. Keep it in a secret manager.')
  console.log(storeLine(config))
}

interface CreateOptions extends CreditOptions {
  name: string
  owner?: string
  scopes: string
  expires?: string
  limit: string[]
  models?: string
  allowIp?: string
  concurrency?: string
  metadata?: string
  json?: boolean
}

const ALLOW_IP_HELP = 'comma-separated addresses or CIDR ranges the key may be used from, e.g. 10.0.0.0/8,2001:db8::/32'

function registerCreate(keys: Command): void {
  const create = storeCommand(keys, 'create', 'create a key and print it once')
    .requiredOption('--name <name>', 'who or what the key is for')
    .option('--owner <id>', 'who the key belongs to (A-Z a-z 0-9 _ . -; default "default"); owner limits are shared by its keys')
    .option('--scopes <list>', 'comma-separated scopes: predict, admin', 'predict')
    .option('--expires <when>', 'expiry: a duration from now (30d, 12h) or an ISO date')
    .addOption(
      new Option('--limit <rule>', 'a limit such as 60/1m or day=10000/1d; repeat for several')
        .argParser(collect)
        .default([], "the server's"),
    )
    .option('--models <list>', 'comma-separated models the key may use (default: all); the built-in model or one given with --model')
    .option('--allow-ip <list>', `${ALLOW_IP_HELP} (default: any)`)
    .option('--concurrency <n>', `${CONCURRENCY_HELP} (default: no cap)`)
    .option('--metadata <json>', 'a small JSON object of your own (at most 4 KiB)')
  addCreateCreditOptions(create, 'the key')
  addModelSettings(create).action(async (options: CreateOptions, command: Command) => {
    const config = configFrom(command)
    const input = parseOptions(() => ({
      name: parseKeyName(options.name),
      ...(options.owner !== undefined && { owner: parseOwnerId(options.owner) }),
      scopes: parseScopes(options.scopes),
      expiresAt: options.expires === undefined ? null : parseExpiry(options.expires, Date.now()),
      limits: options.limit.length > 0 ? parseRules(options.limit) : null,
      models: options.models === undefined ? null : knownModelList(options.models, config),
      allowedIps: options.allowIp === undefined ? null : allowIpList(options.allowIp),
      concurrency: options.concurrency === undefined ? null : parseConcurrency(options.concurrency),
      metadata: options.metadata === undefined ? null : parseMetadataOption(options.metadata),
      credits: newBalance(options),
    }))
    // The one command that may make a new store (and says so): the others refuse a missing one.
    const created = await withKeys(config, (service) => service.create(input, 'cli'), 'write')
    printCreated(created, options.json === true, config)
  })
}

interface ListOptions {
  owner?: string
  status?: string
  scope?: string
  search?: string
  json?: boolean
}

function listFilter(options: ListOptions): KeyFilter {
  const filter: KeyFilter = {}
  if (options.owner !== undefined) filter.owner = parseOwnerId(options.owner)
  if (options.status !== undefined) {
    if (!(KEY_STATUSES as readonly string[]).includes(options.status)) throw new Error(`--status must be one of ${KEY_STATUSES.join(', ')}`)
    filter.status = options.status as KeyFilter['status']
  }
  if (options.scope !== undefined) {
    if (!(SCOPES as readonly string[]).includes(options.scope)) throw new Error(`--scope must be one of ${SCOPES.join(', ')}`)
    filter.scope = options.scope as Scope
  }
  if (options.search !== undefined) filter.q = options.search
  return filter
}

function registerList(keys: Command): void {
  storeCommand(
    keys,
    'list',
    'list keys, newest first, with their status, last use and requests in the last 24 hours (never the keys themselves)',
  )
    .option('--owner <id>', 'only keys of this owner')
    .option('--status <status>', `only keys in this state: ${KEY_STATUSES.join(', ')}`)
    .option('--scope <scope>', 'only keys with this scope')
    .option('--search <text>', 'only keys whose name contains the text, or whose prefix starts with it (igk_AbC…)')
    .action(async (options: ListOptions, command: Command) => {
      const filter = parseOptions(() => listFilter(options))
      const now = Date.now()
      const [records, counts] = await withKeys(configFrom(command), async (service, db) => {
        const page = await service.page(filter, 0, Number.MAX_SAFE_INTEGER)
        return [page.keys, await countsByKeySince(db.kysely, now - DAY_MS)] as const
      })
      const day = (id: string) => lastDay(now, [counts.get(id) ?? {}])
      if (options.json === true) {
        console.log(JSON.stringify(records.map((record) => ({ ...keyJson(record, now), last_24h: day(record.id) }))))
        return
      }
      const rows = records.map((r) => [
        r.id,
        r.name,
        r.owner,
        r.prefix,
        r.scopes.join(','),
        statusText(r, now),
        formatTime(r.createdAt),
        formatTime(r.expiresAt),
        formatTime(r.lastUsedAt),
        String(day(r.id).requests),
        String(day(r.id).rejected),
        limitsText(r.limits),
      ])
      const headers = [
        'ID',
        'NAME',
        'OWNER',
        'PREFIX',
        'SCOPES',
        'STATUS',
        'CREATED',
        'EXPIRES',
        'LAST USED',
        '24H REQUESTS',
        '24H REJECTED',
        'LIMITS',
      ]
      console.log(renderTable(headers, rows))
    })
}

function registerShow(keys: Command): void {
  storeCommand(keys, 'show', "show one key: its settings, state, its owner's shared limits and its requests in the last 24 hours")
    .argument('<id>', 'the key id (key_...)')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const now = Date.now()
      const found = await withKeys(configFrom(command), async (service, db) => {
        const key = await service.getWithLimits(id)
        if (!key) return undefined
        const counts = await countsByKeySince(db.kysely, now - DAY_MS, [id])
        return { record: key.record, ownerLimits: key.principal.ownerLimits, usage: lastDay(now, counts.values()) }
      })
      if (!found) throw refusalError(id, 'not_found')
      if (options.json === true) {
        console.log(JSON.stringify({ ...keyJson(found.record, now), owner_limits: limitsView(found.ownerLimits), last_24h: found.usage }))
        return
      }
      console.log(keyLines(found.record, now))
      console.log(`owner limits: ${limitsText(found.ownerLimits, 'none')}`)
      console.log(`last 24h:     ${found.usage.requests} requests, ${found.usage.rejected} rejected`)
    })
}

interface UpdateOptions extends LimitOptions, CreditOptions {
  name?: string
  scopes?: string
  expires?: string | false
  defaultLimits?: boolean
  models?: string
  allModels?: boolean
  allowIp?: string
  anyIp?: boolean
  concurrency?: string | false
  metadata?: string | false
  json?: boolean
}

/** `--models a,b`: names of models a server with the same settings serves. */
function knownModelList(raw: string, config: Config): string[] {
  const models = parseModelList(raw)
  checkModels(models, config)
  return models
}

function parseChanges(options: UpdateOptions, config: Config): KeyUpdate {
  if (options.defaultLimits && limitsGiven(options))
    throw new Error('--default-limits excludes --limit, --remove-limit and --replace-limits')
  if (options.models !== undefined && options.allModels) throw new Error('--models and --all-models exclude each other')
  if (options.allowIp !== undefined && options.anyIp) throw new Error('--allow-ip and --any-ip exclude each other')
  const changes: KeyUpdate = {}
  if (options.name !== undefined) changes.name = parseKeyName(options.name)
  if (options.scopes !== undefined) changes.scopes = parseScopes(options.scopes)
  if (options.expires === false) changes.expiresAt = null
  else if (options.expires !== undefined) changes.expiresAt = parseExpiry(options.expires, Date.now())
  const limits = limitsChange(options, keyLimitsEdit)
  if (limits !== undefined) changes.limits = limits
  if (options.defaultLimits) changes.limits = null
  if (options.models !== undefined) changes.models = knownModelList(options.models, config)
  if (options.allModels) changes.models = null
  if (options.allowIp !== undefined) changes.allowedIps = allowIpList(options.allowIp)
  if (options.anyIp) changes.allowedIps = null
  const concurrency = concurrencyChange(options.concurrency)
  if (concurrency !== undefined) changes.concurrency = concurrency
  if (options.metadata === false) changes.metadata = null
  else if (options.metadata !== undefined) changes.metadata = parseMetadataOption(options.metadata)
  const credits = creditsChange(options)
  if (credits !== undefined) changes.credits = credits
  if (Object.keys(changes).length === 0) {
    throw new Error(
      'nothing to change: give --name, --scopes, --expires, --no-expires, --limit, --remove-limit, --default-limits, --models, --all-models, --allow-ip, --any-ip, --concurrency, --no-concurrency, --metadata, --no-metadata, --credits, --credits-unit, --add-credits, --no-credits, --refill or --no-refill',
    )
  }
  return changes
}

function registerUpdate(keys: Command): void {
  const update = storeCommand(
    keys,
    'update',
    "change a key's name, scopes, expiry, limits, models, allowed addresses, concurrency cap, metadata or credits (a running server applies it within a second)",
  )
    .argument('<id>', 'the key id (key_...)')
    .option('--name <name>', 'new name')
    .option('--scopes <list>', 'new comma-separated scopes')
    .option('--expires <when>', 'new expiry: a duration from now or an ISO date')
    .option('--no-expires', 'never expire')
  addLimitOptions(update, 'key')
    .option('--default-limits', "drop the key's own limits: the server's defaults apply")
    .option('--models <list>', 'restrict the key to these comma-separated models: the built-in model or ones given with --model')
    .option('--all-models', 'let the key use every model')
    .option('--allow-ip <list>', `replace the addresses the key may be used from: ${ALLOW_IP_HELP}`)
    .option('--any-ip', 'let the key be used from any address')
    .option('--concurrency <n>', `set the key's cap: ${CONCURRENCY_HELP}`)
    .option('--no-concurrency', 'drop the key’s concurrency cap')
    .option('--metadata <json>', 'replace the metadata with this JSON object')
    .option('--no-metadata', 'drop the metadata')
  addUpdateCreditOptions(update, 'the key')
  addModelSettings(update).action(async (id: string, options: UpdateOptions, command: Command) => {
    const config = configFrom(command)
    const changes = parseOptions(() => parseChanges(options, config))
    const result = await creditsGuard(() => limitEditGuard(() => withKeys(config, (service) => service.update(id, changes, 'cli'))))
    if (!result.ok) throw refusalError(id, result.reason)
    const record = result.value
    if (options.json === true) console.log(JSON.stringify(keyJson(record, Date.now())))
    else
      console.log(
        `Updated ${id}: scopes ${record.scopes.join(',')}; limits ${limitsText(record.limits)}; credits ${creditsText(record.credits, Date.now())}; expires ${formatTime(record.expiresAt)}\n${storeLine(config)}`,
      )
  })
}

export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('create, list, show, update, rotate, disable, enable, revoke and find API keys')
  registerCreate(keys)
  registerList(keys)
  registerShow(keys)
  registerUpdate(keys)
  registerLifecycle(keys)
  registerFind(keys)
}
