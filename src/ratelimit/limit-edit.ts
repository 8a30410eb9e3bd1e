/**
 * Edits of a set of limits that keep what they do not name, for `keys update` / `owners update`
 * and `PATCH /v1/keys/{id}`, `/v1/owners/{id}` (`set_limits`, `remove_limits`): `set` adds a
 * limit or replaces the one of the same name (`600/1m` is named `minute`, so it replaces the
 * minute limit and keeps the day limit); `remove` drops a limit by name (`day`, `burst`) or by
 * window (`1d`). Replacing the whole set stays possible (`limits`, `--replace-limits`).
 */
import { parseDuration } from '../lib/duration.js'
import type { LimitRule } from './policy.js'
import { formatRule, parseRules } from './policy.js'

/** Most limits one key or owner may have (as many as `limits` takes). */
const MAX_LIMITS = 20

export interface LimitEdit {
  /** Limits to add, or to put in the place of the limit of the same name. */
  set: LimitRule[]
  /** Names (`day`) or windows (`1d`) of limits to drop; each must match one. */
  remove: string[]
}

/** A new set of limits computed from the current one, under the store's write lock. */
export type LimitsChange = (current: LimitRule[] | null) => LimitRule[] | null

/** An edit that cannot be made; `part` says which half of the edit is wrong. */
export class LimitEditError extends Error {
  override name = 'LimitEditError'
  constructor(
    message: string,
    readonly part: 'set' | 'remove',
  ) {
    super(message)
  }
}

const NAME = /^[a-z0-9][a-z0-9_-]{0,31}$/

/** Parses the written form of an edit; throws a readable message naming the bad entry. */
export function parseLimitEdit(set: readonly string[], remove: readonly string[]): LimitEdit {
  for (const target of remove) {
    if (!NAME.test(target.trim())) throw new LimitEditError(`"${target}" is not the name (day, burst) or window (1d) of a limit`, 'remove')
  }
  const edit = { set: parseRules(set), remove: remove.map((target) => target.trim()) }
  const both = edit.set.find((rule) => edit.remove.includes(rule.name))
  if (both) throw new LimitEditError(`the limit "${both.name}" is both set and removed`, 'remove')
  return edit
}

function windowOf(target: string): number | undefined {
  try {
    return parseDuration(target)
  } catch {
    return undefined
  }
}

/** The limits `edit` leaves of `current` (null: none of its own): removals first, then additions in place. */
function applyLimitEdit(current: readonly LimitRule[] | null, edit: LimitEdit): LimitRule[] {
  let rules = [...(current ?? [])]
  for (const target of edit.remove) {
    const byName = rules.filter((rule) => rule.name === target)
    const matched = byName.length > 0 ? byName : rules.filter((rule) => rule.windowMs === windowOf(target))
    if (matched.length === 0) {
      const have = rules.length === 0 ? 'there are no limits of its own' : `its limits are ${rules.map(formatRule).join(', ')}`
      const what =
        windowOf(target) === undefined ? `no limit is named "${target}"` : `no limit is named "${target}" or has the window ${target}`
      throw new LimitEditError(`${what}: ${have}`, 'remove')
    }
    rules = rules.filter((rule) => !matched.includes(rule))
  }
  for (const rule of edit.set) {
    const at = rules.findIndex((kept) => kept.name === rule.name)
    if (at >= 0) rules[at] = rule
    else rules.push(rule)
  }
  if (rules.length > MAX_LIMITS)
    throw new LimitEditError(`at most ${MAX_LIMITS} limits are allowed, the edit leaves ${rules.length}`, 'set')
  return rules
}

/**
 * A key's limits after `edit`. A key cannot be left with none: its `null` means the server's
 * default limits, which is asked for explicitly (`--default-limits`, `"limits": null`).
 */
export function keyLimitsEdit(edit: LimitEdit): LimitsChange {
  return (current) => {
    const rules = applyLimitEdit(current, edit)
    if (rules.length === 0) {
      throw new LimitEditError(
        'the edit removes every limit of the key; to use the server\'s defaults instead, ask for them (--default-limits, or "limits": null)',
        'remove',
      )
    }
    return rules
  }
}

/** An owner's shared limits after `edit`; removing the last one leaves none (null). */
export function ownerLimitsEdit(edit: LimitEdit): LimitsChange {
  return (current) => {
    const rules = applyLimitEdit(current, edit)
    return rules.length === 0 ? null : rules
  }
}
