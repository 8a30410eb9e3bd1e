/**
 * Whose limits a request is counted against: its key's own (or the server's defaults), and
 * its owner's shared limits when the owner has some. Owner rules are named `owner-<name>` so
 * that the headers tell them apart from the key's rules of the same name. Rules named
 * `tokens-<name>` are token limits of the LLM routes, counted there (`llm/budget.ts`) instead.
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

/**
 * Rules named `tokens-…` on a key or an owner count LLM tokens (`llm/budget.ts`), not requests:
 * they are left out of the request limits here.
 */
export const TOKEN_RULE_PREFIX = 'tokens-'

/** The rules of a list that count requests (not `tokens-…`); null when the list is null. */
function requestRules(rules: readonly LimitRule[] | null): readonly LimitRule[] | null {
  if (rules === null || !rules.some((rule) => rule.name.startsWith(TOKEN_RULE_PREFIX))) return rules
  return rules.filter((rule) => !rule.name.startsWith(TOKEN_RULE_PREFIX))
}

/** The key's group, then the owner's when it has limits. */
export function limitGroups(caller: LimitedCaller, defaults: readonly LimitRule[]): LimitGroup[] {
  const own = requestRules(caller.limits)
  // A key whose own limits are all token limits is limited in requests by the defaults.
  const groups: LimitGroup[] = [{ subject: `key:${caller.keyId}`, rules: own === null || own.length === 0 ? defaults : own }]
  const ownerRules = requestRules(caller.ownerLimits)
  if (ownerRules && ownerRules.length > 0) {
    groups.push({
      subject: `owner:${caller.owner}`,
      rules: ownerRules.map((rule) => ({ ...rule, name: `${OWNER_RULE_PREFIX}${rule.name}` })),
    })
  }
  return groups
}
