/**
 * Webhook events: what happened, written to `webhook_events` by whoever caused it — the server
 * or a CLI command on the same store — and sent to every `--webhook-url` by a server's
 * dispatcher (`dispatcher.ts`). An event's body never holds a key: ids and prefixes only.
 */
import { randomBytes } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { AdminEvent } from '../audit/record.js'
import type { VerifyReport } from '../audit/verify.js'
import type { AuditSink } from '../audit/writer.js'
import type { DatabaseSchema } from '../db/schema.js'
import type { Clock } from '../lib/clock.js'

export type WebhookEventType = 'key.expiring' | 'key.revoked' | 'key.rotated' | 'credits.low' | 'credits.exhausted' | 'audit.verify_failed'

/** The JSON body receivers get (the Standard Webhooks payload shape). */
interface WebhookPayload {
  type: WebhookEventType
  /** ISO 8601, when it happened. */
  timestamp: string
  data: Record<string, unknown>
}

const newEventId = () => `msg_${randomBytes(16).toString('base64url')}`

export class WebhookEventLog {
  constructor(
    private readonly db: Kysely<DatabaseSchema>,
    private readonly clock: Clock,
    /** Told after each event recorded here (the dispatcher sends at once instead of at its next poll). */
    private readonly onRecorded?: () => void,
  ) {}

  /**
   * Records an event. `id` names one that must exist once whoever notices it first (an expiry
   * notice seen by several instances); false when an event with that id is already there.
   */
  async record(type: WebhookEventType, data: Record<string, unknown>, id = newEventId()): Promise<boolean> {
    const now = this.clock.now()
    const payload: WebhookPayload = { type, timestamp: new Date(now).toISOString(), data }
    const result = await this.db
      .insertInto('webhook_events')
      .values({ id, type, payload: JSON.stringify(payload), created_at: now })
      .onConflict((conflict) => conflict.column('id').doNothing())
      .executeTakeFirst()
    const added = Number(result.numInsertedOrUpdatedRows ?? 0) === 1
    if (added) this.onRecorded?.()
    return added
  }

  /** Records `audit.verify_failed` for a report of a broken chain (by `audit verify` or the route); nothing for an intact one. */
  async verified(report: VerifyReport, by: string): Promise<void> {
    if (report.intact) return
    const { seq, kind, explanation } = report.break
    await this.record('audit.verify_failed', { seq, kind, explanation, records_intact: report.records, checked_by: by })
  }

  /**
   * An audit sink that also records `key.revoked` and `key.rotated` for the key changes it is
   * told about, then passes every event on to `audit` (the key service's one report of changes).
   */
  tap(audit: AuditSink | undefined): AuditSink {
    return {
      admin: async (event: AdminEvent) => {
        await audit?.admin(event)
        const type = event.action === 'key.revoke' ? 'key.revoked' : event.action === 'key.rotate' ? 'key.rotated' : undefined
        if (type) await this.record(type, { key_id: event.keyId, key_prefix: event.keyPrefix, actor: event.actor, ...rotation(event) })
      },
    }
  }

  /** Deletes events older than `before` that no delivery still waits for. */
  async prune(before: number): Promise<void> {
    await this.db
      .deleteFrom('webhook_events')
      .where('created_at', '<', before)
      .where((eb) =>
        eb.not(
          eb.exists(
            eb
              .selectFrom('webhook_deliveries')
              .select('event_id')
              .whereRef('webhook_deliveries.event_id', '=', 'webhook_events.id')
              .where('delivered_at', 'is', null)
              .where('failed_at', 'is', null),
          ),
        ),
      )
      .execute()
  }
}

function rotation(event: AdminEvent): Record<string, unknown> {
  if (event.action !== 'key.rotate' || !event.detail) return {}
  const { rotatedTo, rotatedToPrefix, graceEndsAt } = event.detail
  return {
    rotated_to: rotatedTo,
    rotated_to_prefix: rotatedToPrefix,
    grace_ends_at: typeof graceEndsAt === 'number' ? new Date(graceEndsAt).toISOString() : null,
  }
}
