/**
 * Whose limits a request is counted against: its key's own (or the server's defaults), and
 * its owner's shared limits when the owner has some. Owner rules are named `owner-<name>` so
 * that the headers tell them apart from the key's rules of the same name.
 */
import type { LimitGroup } from './limiter.js'
import type { LimitRule } from './policy.js'

export interface LimitedCaller {
  keyId: string
  limits: readonly LimitRule[] | null
  owner: string
  ownerLimits: readonly LimitRule[] | null
}

const OWNER_RULE_PREFIX = 'owner-'

/** The key's group, then the owner's when it has limits. */
export function limitGroups(caller: LimitedCaller, defaults: readonly LimitRule[]): LimitGroup[] {
  const groups: LimitGroup[] = [{ subject: `key:${caller.keyId}`, rules: caller.limits ?? defaults }]
  if (caller.ownerLimits && caller.ownerLimits.length > 0) {
    groups.push({
      subject: `owner:${caller.owner}`,
      rules: caller.ownerLimits.map((rule) => ({ ...rule, name: `${OWNER_RULE_PREFIX}${rule.name}` })),
    })
  }
  return groups
}
