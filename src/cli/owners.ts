/** `infergate owners show|update`: an owner's keys and usage, and the limits its keys share. */
import type { Command } from 'commander'
import { countsByKeySince, summarize } from '../audit/usage.js'
import { parseOwnerId } from '../keys/types.js'
import { keyView, limitsView } from '../keys/view.js'
import { ownerLimitsEdit } from '../ratelimit/limit-edit.js'
import { limitsText, parseOptions, statusText, storeCommand, withKeys } from './keys-common.js'
import type { LimitOptions } from './limit-options.js'
import { addLimitOptions, limitEditGuard, limitsChange, limitsGiven } from './limit-options.js'
import { configFrom } from './options.js'
import { allowIpList } from './allow-ip.js'
import { creditsView } from '../accounting/credits.js'
import type { CreditOptions } from './credits.js'
import { addUpdateCreditOptions, creditsChange, creditsGuard, creditsText } from './credits.js'
import { CliError } from './run.js'
import { storeLine } from './store-access.js'
import { CONCURRENCY_HELP, concurrencyChange } from './concurrency-option.js'
import { formatTime, renderTable } from './table.js'

const DAY_MS = 86_400_000

async function loadOwner(command: Command, id: string) {
  const now = Date.now()
  return withKeys(configFrom(command), async (service, db) => {
    const [owner, records] = await Promise.all([service.owner(id), service.listByOwner(id)])
    const counts = await countsByKeySince(
      db.kysely,
      now - DAY_MS,
      records.map((record) => record.id),
    )
    return {
      exists: owner !== undefined || records.length > 0,
      limits: owner?.limits ?? null,
      allowedIps: owner?.allowedIps ?? null,
      concurrency: owner?.concurrency ?? null,
      credits: owner?.credits ?? null,
      records,
      usage: summarize(counts.values()),
      now,
    }
  })
}

function printOwner(id: string, owner: Awaited<ReturnType<typeof loadOwner>>, json: boolean): void {
  const { limits, allowedIps, concurrency, credits, records, usage, now } = owner
  if (json) {
    const since = new Date(now - DAY_MS).toISOString()
    console.log(
      JSON.stringify({
        id,
        limits: limitsView(limits),
        allowed_ips: allowedIps,
        concurrency,
        credits: creditsView(credits, now),
        keys: records.map((r) => keyView(r, now)),
        usage: { since, ...usage },
      }),
    )
    return
  }
  console.log(`owner:         ${id}`)
  console.log(`shared limits: ${limitsText(limits, 'none')}`)
  console.log(`allowed ips:   ${allowedIps?.join(',') ?? 'any'}`)
  console.log(`concurrency:   ${concurrency === null ? 'no cap' : `${concurrency} in flight, all keys together`}`)
  console.log(`credits:       ${creditsText(credits, now)}`)
  console.log(`last 24h:      ${usage.requests} requests, ${usage.rejected} rejected\n`)
  const rows = records.map((r) => [
    r.id,
    r.name,
    r.prefix,
    r.scopes.join(','),
    statusText(r, now),
    formatTime(r.lastUsedAt),
    limitsText(r.limits),
  ])
  console.log(renderTable(['ID', 'NAME', 'PREFIX', 'SCOPES', 'STATUS', 'LAST USED', 'LIMITS'], rows))
}

const ownerId = (raw: string) => parseOptions(() => parseOwnerId(raw))

export function registerOwners(program: Command): void {
  const owners = program.command('owners').description("show an owner's keys and usage; set the limits its keys share")

  storeCommand(owners, 'show', "an owner's shared limits, keys and requests in the last 24 hours")
    .argument('<id>', 'the owner id')
    .action(async (raw: string, options: { json?: boolean }, command: Command) => {
      const id = ownerId(raw)
      const owner = await loadOwner(command, id)
      if (!owner.exists) throw new CliError(`no key has the owner ${id} and it has no limits`)
      printOwner(id, owner, options.json === true)
    })

  const update = storeCommand(
    owners,
    'update',
    'set the limits, allowed addresses and credit balance shared by all keys of an owner (each key keeps its own too)',
  ).argument('<id>', 'the owner id')
  addLimitOptions(update, 'owner')
    .option('--no-limits', 'drop the shared limits')
    .option('--allow-ip <list>', 'comma-separated addresses or CIDR ranges every key of the owner may be used from')
    .option('--any-ip', 'let the keys of the owner be used from any address')
    .option('--concurrency <n>', `cap all keys of the owner together: ${CONCURRENCY_HELP}`)
    .option('--no-concurrency', 'drop the owner’s concurrency cap')
  addUpdateCreditOptions(update, 'every key of the owner').action(async (raw: string, options: OwnerUpdateOptions, command: Command) => {
    const id = ownerId(raw)
    const { change, allowedIps, concurrency, credits } = parseOptions(() => ownerChanges(options))
    const config = configFrom(command)
    if (change !== undefined) await limitEditGuard(() => withKeys(config, (service) => service.setOwnerLimits(id, change, 'cli')))
    if (allowedIps !== undefined) await withKeys(config, (service) => service.setOwnerAllowedIps(id, allowedIps, 'cli'))
    if (concurrency !== undefined) await withKeys(config, (service) => service.setOwnerConcurrency(id, concurrency, 'cli'))
    if (credits !== undefined) await creditsGuard(() => withKeys(config, (service) => service.setOwnerCredits(id, credits, 'cli')))
    const owner = await loadOwner(command, id)
    if (options.json === true) printOwner(id, owner, true)
    else {
      const ips = owner.allowedIps?.join(',') ?? 'any address'
      const cap = owner.concurrency === null ? 'no concurrency cap' : `at most ${owner.concurrency} requests in flight`
      console.log(
        `Owner ${id}: shared limits ${limitsText(owner.limits, 'none')}; keys usable from ${ips}; ${cap}; credits ${creditsText(owner.credits, owner.now)} (a running server applies this within a second).\n${storeLine(config)}`,
      )
    }
  })
}

interface OwnerUpdateOptions extends LimitOptions, CreditOptions {
  limits?: boolean
  allowIp?: string
  anyIp?: boolean
  concurrency?: string | false
  json?: boolean
}

function ownerChanges(options: OwnerUpdateOptions) {
  if (options.limits === false && limitsGiven(options)) throw new Error('--no-limits excludes --limit, --remove-limit and --replace-limits')
  if (options.allowIp !== undefined && options.anyIp) throw new Error('--allow-ip and --any-ip exclude each other')
  const change = options.limits === false ? null : limitsChange(options, ownerLimitsEdit)
  const allowedIps = options.anyIp ? null : options.allowIp === undefined ? undefined : allowIpList(options.allowIp)
  const concurrency = concurrencyChange(options.concurrency)
  const credits = creditsChange(options)
  if (change === undefined && allowedIps === undefined && concurrency === undefined && credits === undefined)
    throw new Error(
      'give --limit or --remove-limit (repeatable), --no-limits, --allow-ip, --any-ip, --concurrency, --no-concurrency, --credits, --credits-unit, --add-credits, --no-credits, --refill or --no-refill',
    )
  return { change, allowedIps, concurrency, credits }
}
