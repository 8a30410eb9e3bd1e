/**
 * `key.expiring` notices: 7 days and 1 day before a key in use expires. Each notice has an id
 * made from the key, its expiry and the lead time, so that it is recorded once however many
 * instances look, and again if the key's expiry is moved.
 */
import type { KeyService } from '../keys/service.js'
import type { WebhookEventLog } from './events.js'

const DAY_MS = 86_400_000
const NOTICES = [
  { lead: '7d', ms: 7 * DAY_MS },
  { lead: '1d', ms: DAY_MS },
] as const

export async function recordExpiryNotices(keys: KeyService, events: WebhookEventLog, now: number): Promise<void> {
  for (const notice of NOTICES) {
    for (const key of await keys.expiringBetween(now, now + notice.ms)) {
      // A key that entered both windows since the last look gets only the nearer notice.
      if (notice.lead === '7d' && key.expiresAt! - now <= DAY_MS) continue
      const data = {
        key_id: key.id,
        key_prefix: key.prefix,
        name: key.name,
        owner: key.owner,
        expires_at: new Date(key.expiresAt!).toISOString(),
        notice: notice.lead,
      }
      await events.record('key.expiring', data, `msg_expiring_${key.id}_${key.expiresAt}_${notice.lead}`)
    }
  }
}
