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

  const update = storeCommand(
    owners,
    'update',
    'set the limits shared by all keys of an owner (each key keeps its own limits too)',
  ).argument('<id>', 'the owner id')
  addLimitOptions(update, 'owner')
    .option('--no-limits', 'drop the shared limits')
    .action(async (raw: string, options: LimitOptions & { limits?: boolean; json?: boolean }, command: Command) => {
      const id = ownerId(raw)
      const change = parseOptions(() => {
        if (options.limits === false && limitsGiven(options))
          throw new Error('--no-limits excludes --limit, --remove-limit and --replace-limits')
        if (options.limits === false) return null
        const change = limitsChange(options, ownerLimitsEdit)
        if (change === undefined) throw new Error('give --limit or --remove-limit (repeatable), or --no-limits')
        return change
      })
      const { limits } = await limitEditGuard(() => withKeys(configFrom(command), (service) => service.setOwnerLimits(id, change, 'cli')))
      const owner = await loadOwner(command, id)
      if (options.json === true) printOwner(id, owner, true)
      else console.log(`Owner ${id}: shared limits ${limitsText(limits, 'none')} (a running server applies them within a second).`)
    })
}
