/**
 * The key object as the admin API and `infergate keys … --json` show it: snake_case, ISO
 * times, never the key itself nor its digest.
 */
import { creditsView } from '../accounting/credits.js'
import { compactDuration } from '../lib/duration.js'
import type { Decision, LimitGroup } from '../ratelimit/limiter.js'
import { ceilSeconds } from '../ratelimit/limiter.js'
import type { LimitRule } from '../ratelimit/policy.js'
import type { ApiKeyRecord } from './types.js'
import { keyStatus } from './types.js'

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString())

/** A rule as JSON: `{name, limit, window}` with the window written as on the CLI (`1m`). */
function ruleView(rule: LimitRule) {
  return { name: rule.name, limit: rule.limit, window: compactDuration(rule.windowMs) }
}

/**
 * What is left of each rule of `groups` (a key's, then its owner's) as `decision` read it, in
 * `unit`: requests (the request limits) or tokens (`tokens-…` rules and `--llm-limit`).
 * An owner's rules are counted under `owner-…` names; they are shown under their own.
 */
export function limitStateView(groups: readonly LimitGroup[], decision: Decision, unit: 'requests' | 'tokens') {
  const views = []
  let index = 0
  for (const group of groups) {
    const subject = /^(tokens:)?owner:/.test(group.subject) ? ('owner' as const) : ('key' as const)
    for (const rule of group.rules) {
      const state = decision.states[index++]
      if (!state) continue
      const name = subject === 'owner' ? rule.name.replace(/^owner-/, '') : rule.name
      views.push({ subject, unit, ...ruleView({ ...rule, name }), remaining: state.remaining, reset_seconds: ceilSeconds(state.resetMs) })
    }
  }
  return views
}

export function limitsView(limits: readonly LimitRule[] | null) {
  return limits === null ? null : limits.map(ruleView)
}

export function keyView(record: ApiKeyRecord, now: number) {
  const status = keyStatus(record, now)
  return {
    id: record.id,
    name: record.name,
    owner: record.owner,
    prefix: record.prefix,
    scopes: record.scopes,
    models: record.models,
    allowed_ips: record.allowedIps,
    concurrency: record.concurrency,
    limits: limitsView(record.limits),
    credits: creditsView(record.credits, now),
    metadata: record.metadata,
    status,
    enabled: !record.disabled,
    created_at: iso(record.createdAt)!,
    updated_at: iso(record.updatedAt)!,
    expires_at: iso(record.expiresAt),
    revoked_at: iso(record.revokedAt),
    last_used_at: iso(record.lastUsedAt),
    grace_ends_at: iso(record.graceEndsAt),
    rotated_to: record.rotatedTo,
  }
}

export type KeyView = ReturnType<typeof keyView>
