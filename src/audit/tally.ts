/**
 * Requests refused before any key was identified — no key, a malformed or unknown one, or an
 * address blocked for too many failed authentications — are counted, not recorded one by one:
 * one `unauthenticated` record per client address, minute and outcome says how many there were,
 * on which routes, and between which times. So traffic without a key cannot grow the audit log
 * by a row per request, while the log still shows who knocked, when and how often.
 *
 * Memory is bounded: at most `maxAddresses` addresses are told apart per minute; the rest of
 * that minute's such requests are counted under the address `*` (detail `other_addresses`).
 */
import type { AuditEntry, Outcome } from './record.js'
import { blankEntry } from './record.js'

const MINUTE_MS = 60_000
/** Routes named in a summary's detail, at most; the rest are counted as `other`. */
const MAX_ROUTES = 8
const OTHER_ADDRESSES = '*'

interface Count {
  minute: number
  ip: string
  outcome: Outcome
  status: number
  requests: number
  first: number
  last: number
  routes: Map<string, number>
}

/** What the tally needs of a refused request. */
export interface UnauthenticatedRequest {
  time: number
  ip: string
  outcome: Outcome
  status: number
  route: string | null
}

export class AddressTally {
  private readonly counts = new Map<string, Count>()
  /** Distinct addresses seen per minute. */
  private readonly addresses = new Map<number, Set<string>>()

  constructor(private readonly maxAddresses = 10_000) {}

  /** Number of summaries waiting (one per address, minute and outcome). */
  get size(): number {
    return this.counts.size
  }

  count(request: UnauthenticatedRequest): void {
    const minute = request.time - (request.time % MINUTE_MS)
    const ip = this.addressFor(minute, request.ip)
    const id = `${minute} ${ip} ${request.outcome}`
    let count = this.counts.get(id)
    if (!count) {
      count = {
        minute,
        ip,
        outcome: request.outcome,
        status: request.status,
        requests: 0,
        first: request.time,
        last: request.time,
        routes: new Map(),
      }
      this.counts.set(id, count)
    }
    count.requests++
    count.last = Math.max(count.last, request.time)
    const route = request.route ?? '(unmatched)'
    if (count.routes.has(route) || count.routes.size < MAX_ROUTES) count.routes.set(route, (count.routes.get(route) ?? 0) + 1)
    else count.routes.set('other', (count.routes.get('other') ?? 0) + 1)
  }

  private addressFor(minute: number, ip: string): string {
    let seen = this.addresses.get(minute)
    if (!seen) {
      seen = new Set()
      this.addresses.set(minute, seen)
    }
    if (seen.has(ip) || seen.size < this.maxAddresses) {
      seen.add(ip)
      return ip
    }
    return OTHER_ADDRESSES
  }

  /** The summaries of the minutes that ended before `now` (all of them with `now` = Infinity), removed from the tally. */
  take(now: number): AuditEntry[] {
    const entries: AuditEntry[] = []
    for (const [id, count] of this.counts) {
      if (count.minute + MINUTE_MS > now) continue
      this.counts.delete(id)
      entries.push(summaryEntry(count))
    }
    for (const minute of this.addresses.keys()) if (minute + MINUTE_MS <= now) this.addresses.delete(minute)
    return entries.sort((a, b) => a.time - b.time)
  }

  /** When the earliest minute counted ends (undefined when nothing is counted). */
  nextClose(): number | undefined {
    let earliest: number | undefined
    for (const count of this.counts.values()) earliest = Math.min(earliest ?? Infinity, count.minute + MINUTE_MS)
    return earliest
  }
}

function summaryEntry(count: Count): AuditEntry {
  return {
    ...blankEntry(count.minute, 'unauthenticated', count.outcome),
    ip: count.ip,
    status: count.status,
    detail: JSON.stringify({
      requests: count.requests,
      from: count.first,
      to: count.last,
      routes: Object.fromEntries(count.routes),
      ...(count.ip === OTHER_ADDRESSES && { other_addresses: true }),
    }),
  }
}
