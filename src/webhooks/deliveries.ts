/**
 * `webhook_deliveries`: one row per event and receiver URL, made by `fanOut`, claimed with a
 * lease (a conditional UPDATE, as jobs are) so that with several instances each delivery is
 * attempted by one of them at a time, and marked delivered, retried later or given up.
 */
import type { Kysely } from 'kysely'
import { sql } from 'kysely'
import type { DatabaseSchema } from '../db/schema.js'

export interface DueDelivery {
  eventId: string
  url: string
  attempts: number
  payload: string
}

const CLAIM_BATCH = 20

export class WebhookDeliveries {
  constructor(private readonly db: Kysely<DatabaseSchema>) {}

  /** Makes the missing delivery rows for `url` of every event recorded since `since`. */
  async fanOut(url: string, since: number): Promise<void> {
    await sql`
      insert into webhook_deliveries (event_id, url, attempts, next_attempt_at, created_at)
      select id, ${url}, 0, created_at, created_at from webhook_events where created_at >= ${since}
      on conflict (event_id, url) do nothing`.execute(this.db)
  }

  /** Leases up to 20 due deliveries to `owner` until `now + leaseMs`. */
  async claim(owner: string, now: number, leaseMs: number): Promise<DueDelivery[]> {
    const candidates = await this.db
      .selectFrom('webhook_deliveries')
      .innerJoin('webhook_events', 'webhook_events.id', 'webhook_deliveries.event_id')
      .select(['event_id', 'url', 'attempts', 'payload'])
      .where('delivered_at', 'is', null)
      .where('failed_at', 'is', null)
      .where('next_attempt_at', '<=', now)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .orderBy('next_attempt_at')
      .limit(CLAIM_BATCH)
      .execute()
    const claimed: DueDelivery[] = []
    for (const row of candidates) {
      const result = await this.db
        .updateTable('webhook_deliveries')
        .set({ lease_owner: owner, lease_until: now + leaseMs })
        .where('event_id', '=', row.event_id)
        .where('url', '=', row.url)
        // Checked again in the claim: another pass may have attempted and settled it since the select.
        .where('delivered_at', 'is', null)
        .where('failed_at', 'is', null)
        .where('next_attempt_at', '<=', now)
        .where('attempts', '=', row.attempts)
        .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
        .executeTakeFirst()
      if (Number(result.numUpdatedRows) === 1)
        claimed.push({ eventId: row.event_id, url: row.url, attempts: Number(row.attempts), payload: row.payload })
    }
    return claimed
  }

  /** Records the outcome of one attempt by `owner`: delivered, retry at `nextAt`, or given up. */
  async settle(
    delivery: DueDelivery,
    owner: string,
    outcome: { delivered: true; at: number } | { delivered: false; at: number; error: string; nextAt: number | null },
  ): Promise<void> {
    const attempts = delivery.attempts + 1
    const changes = outcome.delivered
      ? { delivered_at: outcome.at, last_error: null }
      : outcome.nextAt === null
        ? { failed_at: outcome.at, last_error: outcome.error }
        : { next_attempt_at: outcome.nextAt, last_error: outcome.error }
    await this.db
      .updateTable('webhook_deliveries')
      .set({ ...changes, attempts, lease_owner: null, lease_until: null })
      .where('event_id', '=', delivery.eventId)
      .where('url', '=', delivery.url)
      .where('lease_owner', '=', owner)
      .execute()
  }

  /** Deletes finished deliveries (delivered or given up) made before `before`. */
  async prune(before: number): Promise<void> {
    await this.db
      .deleteFrom('webhook_deliveries')
      .where('created_at', '<', before)
      .where((eb) => eb.or([eb('delivered_at', 'is not', null), eb('failed_at', 'is not', null)]))
      .execute()
  }

  /** How many deliveries wait, were delivered and were given up: for tests and operators. */
  async counts(): Promise<{ pending: number; delivered: number; failed: number }> {
    const count = async (state: 'pending' | 'delivered' | 'failed') => {
      let query = this.db.selectFrom('webhook_deliveries').select((eb) => eb.fn.countAll<number>().as('n'))
      query =
        state === 'pending'
          ? query.where('delivered_at', 'is', null).where('failed_at', 'is', null)
          : query.where(state === 'delivered' ? 'delivered_at' : 'failed_at', 'is not', null)
      return Number((await query.executeTakeFirstOrThrow()).n)
    }
    return { pending: await count('pending'), delivered: await count('delivered'), failed: await count('failed') }
  }
}
