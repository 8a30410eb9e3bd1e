/**
 * Re-walks the chain in sequence order and reports the first record where it breaks, and how.
 *
 * At the first bad record R (P is the last good one, N the record after R):
 * - R's hash does not match its content: `inserted` if N links straight to P (R is foreign to
 *   the chain), else `edited`;
 * - R is self-consistent but does not link to P: `reordered` if it links to a later record;
 *   `inserted` if N links straight to P; `inserted` (at the first record after it) if it links
 *   to an earlier record, since what lies between was slipped in; else `deleted` (the record it
 *   follows is gone, or was replaced by a forged one).
 *
 * A plain hash chain cannot see records cut from its end: anchor the head elsewhere
 * (`audit head`) and pass it back as `expectHead` to detect that (`truncated`).
 */
import { GENESIS_HASH, isSelfConsistent } from './chain.js'
import type { AuditRecord } from './record.js'
import type { AuditStore, ChainHead } from './store.js'

type BreakKind = 'edited' | 'deleted' | 'inserted' | 'reordered' | 'truncated'

interface ChainBreak {
  /** The first sequence number where the chain is broken. */
  seq: number
  kind: BreakKind
  explanation: string
}

export type VerifyReport = { intact: true; records: number; head: ChainHead } | { intact: false; records: number; break: ChainBreak }

export interface VerifyOptions {
  /** A head hash kept elsewhere; it must still be in the chain. */
  expectHead?: string
  /** Records read per query; default 1000. */
  pageSize?: number
}

type Store = Pick<AuditStore, 'list' | 'findByHash' | 'nextAfter'>

/** Reads the records in sequence order, a page at a time. */
async function* walk(store: Store, pageSize: number): AsyncGenerator<AuditRecord> {
  let afterSeq = 0
  for (;;) {
    const page = await store.list({ afterSeq }, pageSize)
    yield* page
    if (page.length < pageSize) return
    afterSeq = page[page.length - 1]!.seq
  }
}

/** Walks the whole chain; the report names the first break, if any. */
export async function verifyChain(store: Store, options: VerifyOptions = {}): Promise<VerifyReport> {
  const records = walk(store, options.pageSize ?? 1000)
  const next = async () => {
    const result = await records.next()
    return result.done === true ? undefined : result.value
  }
  let last: ChainHead = { seq: 0, hash: GENESIS_HASH, time: null }
  let count = 0
  let current = await next()
  while (current) {
    const following = await next()
    if (isSelfConsistent(current) && current.prevHash === last.hash) {
      last = { seq: current.seq, hash: current.hash, time: current.time }
      count++
      current = following
      continue
    }
    return { intact: false, records: count, break: await classify(store, last, current, following) }
  }
  if (options.expectHead !== undefined && options.expectHead !== last.hash) {
    const anchored = (await store.findByHash(options.expectHead))[0]
    if (!anchored) {
      const explanation = `the anchored head ${options.expectHead} is not in the chain: records were cut from its end (or the log was replaced)`
      return { intact: false, records: count, break: { seq: last.seq + 1, kind: 'truncated', explanation } }
    }
  }
  return { intact: true, records: count, head: last }
}

async function classify(store: Store, good: ChainHead, bad: AuditRecord, next: AuditRecord | undefined): Promise<ChainBreak> {
  const skipsOver = next !== undefined && next.prevHash === good.hash
  const linkedFrom = `seq ${good.seq === 0 ? '0 (the start)' : good.seq}`
  if (!isSelfConsistent(bad)) {
    return skipsOver
      ? {
          seq: bad.seq,
          kind: 'inserted',
          explanation: `its hash does not match its content and the next record links to ${linkedFrom} over it`,
        }
      : { seq: bad.seq, kind: 'edited', explanation: 'its content no longer matches its hash' }
  }
  const matches = await store.findByHash(bad.prevHash)
  const later = matches.find((record) => record.seq > bad.seq)
  if (later) {
    return { seq: bad.seq, kind: 'reordered', explanation: `it belongs after seq ${later.seq}, not after ${linkedFrom}` }
  }
  if (skipsOver) {
    return { seq: bad.seq, kind: 'inserted', explanation: `it is not part of the chain: the next record links to ${linkedFrom} over it` }
  }
  const earlier = matches.find((record) => record.seq < bad.seq)
  if (earlier) {
    const first = (await store.nextAfter(earlier.seq))?.seq ?? bad.seq
    return {
      seq: first,
      kind: 'inserted',
      explanation: `seq ${bad.seq} links to seq ${earlier.seq}, so the records from seq ${first} to ${bad.seq - 1} were slipped in`,
    }
  }
  const gap = bad.seq - good.seq > 1 ? ` (seq ${good.seq + 1}${bad.seq - good.seq > 2 ? `–${bad.seq - 1}` : ''} missing)` : ''
  return {
    seq: bad.seq,
    kind: 'deleted',
    explanation: `the record chained before it is gone${gap}: deleted, or replaced by a re-hashed forgery`,
  }
}

/** The report as the API and `audit verify --json` show it: the head's time in ISO 8601, as every time in JSON. */
export function reportJson(report: VerifyReport) {
  if (!report.intact) return report
  const { time, ...head } = report.head
  return { ...report, head: { ...head, time: time === null ? null : new Date(time).toISOString() } }
}

/** One line for people: "N records, chain intact" or where and how it broke. */
export function describeReport(report: VerifyReport): string {
  if (report.intact) return `${report.records} records, chain intact`
  const { seq, kind, explanation } = report.break
  return `chain broken at seq ${seq}: ${kind} (${explanation}); ${report.records} records intact before it`
}
