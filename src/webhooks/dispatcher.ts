/**
 * Sends webhook events to the configured URLs, at least once each: every `pollMs` (and at once
 * when this process records an event) it fans new events out to one delivery row per URL,
 * claims due deliveries under a lease and POSTs each, signed (`signature.ts`). A 2xx answer
 * within the timeout is a delivery; anything else is retried after `retryBaseMs × 5^(n−1)`
 * (capped at 10 h) until `maxAttempts`, then given up and logged. Rows live in the store, so a
 * restart or another instance picks up what was left: an event may arrive twice (receivers
 * de-duplicate on `webhook-id`), never not at all while attempts remain.
 */
import { randomBytes } from 'node:crypto'
import type { Logger } from 'pino'
import { request } from 'undici'
import type { KeyService } from '../keys/service.js'
import type { Clock } from '../lib/clock.js'
import type { DueDelivery, WebhookDeliveries } from './deliveries.js'
import { recordExpiryNotices } from './expiring.js'
import type { WebhookEventLog } from './events.js'
import { signWebhook } from './signature.js'

const MAX_RETRY_DELAY_MS = 10 * 3_600_000
/** Events older than this are not fanned out to a URL that has no row for them yet. */
const FAN_OUT_WINDOW_MS = 24 * 3_600_000
/** Finished deliveries and their events are deleted after a week. */
const RETENTION_MS = 7 * 86_400_000
const HOUSEKEEPING_EVERY_MS = 60_000

export interface WebhookDispatcherOptions {
  urls: readonly string[]
  secret: Buffer
  events: WebhookEventLog
  deliveries: WebhookDeliveries
  keys: KeyService
  clock: Clock
  log: Logger
  pollMs: number
  timeoutMs: number
  retryBaseMs: number
  maxAttempts: number
  /** Told about each attempt, for metrics. */
  observe?: (outcome: 'delivered' | 'retry' | 'failed') => void
}

export class WebhookDispatcher {
  private readonly owner = `dispatcher-${randomBytes(6).toString('hex')}`
  private timer: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private again = false
  private stopped = false
  private lastHousekeeping = 0

  constructor(private readonly options: WebhookDispatcherOptions) {}

  start(): void {
    this.schedule(0)
  }

  /** Runs a pass soon: an event was just recorded here. */
  nudge(): void {
    if (this.running) this.again = true
    else this.schedule(0)
  }

  /** Stops polling and waits for the pass in flight (its deliveries settle or stay leased). */
  async stop(): Promise<void> {
    this.stopped = true
    clearTimeout(this.timer)
    await this.running
  }

  private schedule(ms: number): void {
    if (this.stopped) return
    clearTimeout(this.timer)
    this.timer = setTimeout(() => void this.pass(), ms)
    this.timer.unref()
  }

  private async pass(): Promise<void> {
    if (this.running || this.stopped) return
    this.running = this.work()
      .catch((error: unknown) => this.options.log.warn({ err: error }, 'webhook pass failed; retrying at the next one'))
      .finally(() => {
        this.running = undefined
        const now = this.again
        this.again = false
        this.schedule(now ? 0 : this.options.pollMs)
      })
    await this.running
  }

  private async work(): Promise<void> {
    const { clock, deliveries, urls, timeoutMs } = this.options
    const now = clock.now()
    if (now - this.lastHousekeeping >= HOUSEKEEPING_EVERY_MS) await this.housekeeping(now)
    for (const url of urls) await deliveries.fanOut(url, now - FAN_OUT_WINDOW_MS)
    const due = await deliveries.claim(this.owner, now, timeoutMs * 2)
    await Promise.all(due.map((delivery) => this.attempt(delivery)))
  }

  private async housekeeping(now: number): Promise<void> {
    this.lastHousekeeping = now
    await recordExpiryNotices(this.options.keys, this.options.events, now)
    await this.options.deliveries.prune(now - RETENTION_MS)
    await this.options.events.prune(now - RETENTION_MS)
  }

  private async attempt(delivery: DueDelivery): Promise<void> {
    const { clock, deliveries, maxAttempts, observe } = this.options
    const error = await this.send(delivery)
    const at = clock.now()
    if (error === undefined) {
      observe?.('delivered')
      return deliveries.settle(delivery, this.owner, { delivered: true, at })
    }
    const attempts = delivery.attempts + 1
    const nextAt = attempts >= maxAttempts ? null : at + this.retryDelay(attempts)
    observe?.(nextAt === null ? 'failed' : 'retry')
    if (nextAt === null) this.options.log.error({ webhookId: delivery.eventId, url: delivery.url, error }, 'webhook given up')
    else this.options.log.warn({ webhookId: delivery.eventId, url: delivery.url, error, attempts }, 'webhook failed; will retry')
    await deliveries.settle(delivery, this.owner, { delivered: false, at, error, nextAt })
  }

  private retryDelay(attempts: number): number {
    return Math.min(this.options.retryBaseMs * 5 ** (attempts - 1), MAX_RETRY_DELAY_MS)
  }

  /** Undefined when the receiver answered 2xx; else why not, in a few words. */
  private async send(delivery: DueDelivery): Promise<string | undefined> {
    const { secret, clock, timeoutMs } = this.options
    const headers = signWebhook(secret, delivery.eventId, Math.floor(clock.now() / 1000), delivery.payload)
    try {
      const answer = await request(delivery.url, {
        method: 'POST',
        body: delivery.payload,
        headers: { ...headers, 'content-type': 'application/json', 'user-agent': 'infergate-webhooks' },
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
      })
      await answer.body.dump()
      return answer.statusCode >= 200 && answer.statusCode < 300 ? undefined : `HTTP ${answer.statusCode}`
    } catch (error) {
      return (error as Error).message.slice(0, 200)
    }
  }
}
