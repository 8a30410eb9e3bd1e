/** `infergate owners show|update`: an owner's keys and usage, and the limits its keys share. */
import type { Command } from 'commander'
import { Option } from 'commander'
import { countsByKeySince, summarize } from '../audit/usage.js'
import { parseOwnerId } from '../keys/types.js'
import { keyView, limitsView } from '../keys/view.js'
import { parseRules } from '../ratelimit/policy.js'
import { collect, limitsText, parseOptions, statusText, storeCommand, withKeys } from './keys-common.js'
import { configFrom } from './options.js'
import { CliError } from './run.js'
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
      records,
      usage: summarize(counts.values()),
      now,
    }
  })
}

function printOwner(id: string, owner: Awaited<ReturnType<typeof loadOwner>>, json: boolean): void {
  const { limits, records, usage, now } = owner
  if (json) {
    const since = new Date(now - DAY_MS).toISOString()
    console.log(JSON.stringify({ id, limits: limitsView(limits), keys: records.map((r) => keyView(r, now)), usage: { since, ...usage } }))
    return
  }
  console.log(`owner:         ${id}`)
  console.log(`shared limits: ${limitsText(limits, 'none')}`)
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

  storeCommand(owners, 'update', 'set the limits shared by all keys of an owner (each key keeps its own limits too)')
    .argument('<id>', 'the owner id')
    .addOption(
      new Option('--limit <rule>', 'a shared limit such as 1000/1h or day=50000/1d; repeat for several').argParser(collect).default([]),
    )
    .option('--no-limits', 'drop the shared limits')
    .action(async (raw: string, options: { limit: string[]; limits?: boolean; json?: boolean }, command: Command) => {
      const id = ownerId(raw)
      const limits = parseOptions(() => {
        if (options.limits === false && options.limit.length > 0) throw new Error('--limit and --no-limits exclude each other')
        if (options.limits !== false && options.limit.length === 0) throw new Error('give --limit (repeatable) or --no-limits')
        return options.limits === false ? null : parseRules(options.limit)
      })
      await withKeys(configFrom(command), (service) => service.setOwnerLimits(id, limits, 'cli'))
      const owner = await loadOwner(command, id)
      if (options.json === true) printOwner(id, owner, true)
      else console.log(`Owner ${id}: shared limits ${limitsText(limits, 'none')} (a running server applies them within a second).`)
    })
}
