/**
 * The limit options of `keys update` and `owners update`: `--limit` adds a limit or changes the
 * one of the same name and keeps the others, `--remove-limit` drops one (by name or window),
 * `--replace-limits` makes the `--limit`s the whole set (what `--limit` alone did before).
 */
import type { Command } from 'commander'
import { Option } from 'commander'
import type { LimitEdit, LimitsChange } from '../ratelimit/limit-edit.js'
import { LimitEditError, parseLimitEdit } from '../ratelimit/limit-edit.js'
import type { LimitRule } from '../ratelimit/policy.js'
import { parseRules } from '../ratelimit/policy.js'
import { collect } from './keys-common.js'
import { CliError } from './run.js'

export interface LimitOptions {
  limit: string[]
  removeLimit: string[]
  replaceLimits?: boolean
}

/** Adds `--limit`, `--remove-limit` and `--replace-limits`; `whose` is "key" or "owner". */
export function addLimitOptions(command: Command, whose: 'key' | 'owner'): Command {
  const example = whose === 'key' ? '--limit 600/1m changes the minute limit' : '--limit 1000/1h changes the hour limit'
  return command
    .addOption(
      new Option('--limit <rule>', `add or change a limit, keeping the others (${example}; repeat for several)`)
        .argParser(collect)
        .default([], 'unchanged'),
    )
    .addOption(
      new Option('--remove-limit <name|window>', 'drop a limit by name (day, burst) or window (1d); repeat for several')
        .argParser(collect)
        .default([], 'none'),
    )
    .option('--replace-limits', `the --limit options become the ${whose}'s whole set of limits (the others are dropped)`)
}

/** True when any limit option was given. */
export function limitsGiven(options: LimitOptions): boolean {
  return options.limit.length > 0 || options.removeLimit.length > 0 || options.replaceLimits === true
}

/** What the options do to the limits: replace them, edit them (made by `edit`), or nothing (undefined). Throws a usage message. */
export function limitsChange(options: LimitOptions, edit: (parsed: LimitEdit) => LimitsChange): LimitRule[] | LimitsChange | undefined {
  if (options.replaceLimits) {
    if (options.removeLimit.length > 0) throw new Error('--replace-limits and --remove-limit exclude each other')
    if (options.limit.length === 0) throw new Error('--replace-limits needs the new limits: --limit RULE (repeatable)')
    return parseRules(options.limit)
  }
  if (options.limit.length === 0 && options.removeLimit.length === 0) return undefined
  try {
    return edit(parseLimitEdit(options.limit, options.removeLimit))
  } catch (error) {
    throw new Error(`${optionOf(error)}: ${(error as Error).message}`, { cause: error })
  }
}

const optionOf = (error: unknown) => (error instanceof LimitEditError && error.part === 'remove' ? '--remove-limit' : '--limit')

/** Runs a change whose limit edit may not fit the stored limits: one line naming the option, exit code 2. */
export async function limitEditGuard<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work()
  } catch (error) {
    if (error instanceof LimitEditError) throw new CliError(`invalid option: ${optionOf(error)}: ${error.message}`, 2)
    throw error
  }
}
