/** `infergate keys rotate|disable|enable|revoke`: the changes of a key's state. */
import type { Command } from 'commander'
import type { ChangeResult } from '../keys/refusals.js'
import { changedOrThrow } from '../keys/refusals.js'
import type { KeyService } from '../keys/service.js'
import type { ApiKeyRecord } from '../keys/types.js'
import { parseGrace } from '../keys/types.js'
import { keyView } from '../keys/view.js'
import { formatDuration } from '../lib/duration.js'
import { parseOptions, printKey, refusalError, storeCommand, withKeys } from './keys-common.js'
import { storeLine } from './store-access.js'
import { configFrom } from './options.js'
import { formatTime } from './table.js'

function registerRotate(keys: Command): void {
  storeCommand(
    keys,
    'rotate',
    'replace a key by a new one with the same settings and print the new key once; the old one works until the grace period ends',
  )
    .argument('<id>', 'the key id (key_...)')
    .option('--grace <duration>', 'how long the old key keeps working: 0 (at once) to 30d', '24h')
    .action(async (id: string, options: { grace: string; json?: boolean }, command: Command) => {
      const grace = parseOptions(() => parseGrace(options.grace))
      const config = configFrom(command)
      const { created, previous } = changedOrThrow(id, await withKeys(config, (service) => service.rotate(id, grace, 'cli')), refusalError)
      const now = Date.now()
      if (options.json === true) {
        console.log(JSON.stringify({ ...keyView(created.record, now), key: created.key, previous: keyView(previous, now) }))
        return
      }
      const until =
        grace === 0
          ? 'is refused from now on'
          : `keeps working for ${formatDuration(grace)} (until ${formatTime(previous.graceEndsAt)} UTC)`
      console.log(`Rotated ${id} to ${created.record.id} "${created.record.name}" (owner ${created.record.owner}); the old key ${until}.`)
      console.log(`\n    ${created.key}\n`)
      console.log('This is the only time the new key is shown: it is not stored. Keep it in a secret manager.')
      console.log(storeLine(config))
    })
}

/** disable, enable and revoke: one id, one change, the key as it now is. */
function registerStateChange(
  keys: Command,
  name: string,
  description: string,
  change: (service: KeyService, id: string) => Promise<ChangeResult<ApiKeyRecord>>,
  done: (id: string) => string,
): void {
  storeCommand(keys, name, description)
    .argument('<id>', 'the key id (key_...)')
    .action(async (id: string, options: { json?: boolean }, command: Command) => {
      const config = configFrom(command)
      const record = changedOrThrow(id, await withKeys(config, (service) => change(service, id)), refusalError)
      if (options.json === true) printKey(record, true)
      else console.log(`${done(id)}\n${storeLine(config)}`)
    })
}

export function registerLifecycle(keys: Command): void {
  registerRotate(keys)
  registerStateChange(
    keys,
    'disable',
    'refuse a key until it is enabled again (reversible)',
    (service, id) => service.update(id, { disabled: true }, 'cli'),
    (id) => `Disabled ${id}: it is refused until enabled again (a running server sees this within a second).`,
  )
  registerStateChange(
    keys,
    'enable',
    'accept a disabled key again',
    (service, id) => service.update(id, { disabled: false }, 'cli'),
    (id) => `Enabled ${id}: it is accepted again unless expired, revoked or rotated.`,
  )
  registerStateChange(
    keys,
    'revoke',
    'revoke a key for good',
    (service, id) => service.revoke(id, 'cli'),
    (id) => `Revoked ${id}: it is refused from now on (a running server sees this within a second).`,
  )
}
