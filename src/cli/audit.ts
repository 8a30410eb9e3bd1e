/**
 * `infergate audit verify|head|tail|export`: check the chain, print its head for anchoring,
 * follow new records and export them, straight from the store (a server may be running).
 */
import { once } from 'node:events'
import type { Command } from 'commander'
import { Option } from 'commander'
import { csvHeader, csvRow, recordJson } from '../audit/json.js'
import type { AuditRecord, Outcome } from '../audit/record.js'
import { OUTCOMES, RECORD_KINDS } from '../audit/record.js'
import type { AuditFilter } from '../audit/store.js'
import { AuditStore } from '../audit/store.js'
import { describeReport, reportJson, verifyChain } from '../audit/verify.js'
import type { Database } from '../db/types.js'
import { systemClock } from '../lib/clock.js'
import { TimeRangeError, parseTimeRange } from '../lib/instant.js'
import { STORE_SETTINGS, addSettingOptions, configFrom } from './options.js'
import { openStore } from './store-access.js'
import { CliError } from './run.js'
import { describeRecord } from './audit-format.js'
import { WebhookEventLog } from '../webhooks/events.js'

async function withStore<T>(command: Command, use: (store: AuditStore, db: Database) => Promise<T>): Promise<T> {
  // Only reads: a store that does not exist is refused, not created empty.
  const db = await openStore(configFrom(command), 'read')
  try {
    return await use(new AuditStore(db), db)
  } finally {
    await db.close()
  }
}

/** Writes a line to stdout, waiting when the pipe is full (exports can be large). */
async function writeLine(line: string): Promise<void> {
  if (!process.stdout.write(line + '\n')) await once(process.stdout, 'drain')
}

function registerVerify(audit: Command): void {
  const verify = audit
    .command('verify')
    .description('re-walk the hash chain: "N records, chain intact", or the first broken seq and how (exit code 1)')
    .option(
      '--expect-head <hash>',
      'a head printed earlier by `audit head` (the hash, or its whole line); it must still be in the chain (detects a cut tail)',
    )
    .option('--json', 'print the report as JSON')
  addSettingOptions(verify, STORE_SETTINGS)
  verify.action(async (options: { expectHead?: string; json?: boolean }, command: Command) => {
    // The whole line `audit head` prints is accepted as it is: its first word is the hash.
    const expectHead = options.expectHead === undefined ? undefined : /^\s*([0-9a-f]{64})(\s|$)/.exec(options.expectHead)?.[1]
    if (options.expectHead !== undefined && expectHead === undefined) {
      throw new CliError('invalid option --expect-head: must be 64 hexadecimal characters, or the line `audit head` printed', 2)
    }
    const report = await withStore(command, async (store, db) => {
      const found = await verifyChain(store, { expectHead })
      await new WebhookEventLog(db.kysely, systemClock).verified(found, 'cli')
      return found
    })
    console.log(options.json === true ? JSON.stringify(reportJson(report)) : describeReport(report))
    if (!report.intact) process.exitCode = 1
  })
}

function registerHead(audit: Command): void {
  const head = audit
    .command('head')
    .description('print the hash of the last record, to keep somewhere else')
    .option('--json', 'print seq, hash and time as JSON')
  addSettingOptions(head, STORE_SETTINGS)
  head.action(async (options: { json?: boolean }, command: Command) => {
    const current = await withStore(command, (store) => store.head())
    const time = current.time === null ? null : new Date(current.time).toISOString()
    if (options.json === true) console.log(JSON.stringify({ seq: current.seq, hash: current.hash, time }))
    else console.log(`${current.hash}  seq ${current.seq}${time === null ? ' (empty log)' : `  ${time}`}`)
  })
}

function printRecord(record: AuditRecord, json: boolean): Promise<void> {
  return writeLine(json ? JSON.stringify(recordJson(record)) : describeRecord(record))
}

function registerTail(audit: Command): void {
  const tail = audit
    .command('tail')
    .description('print the last records; with -f, keep printing new ones until interrupted')
    .addOption(new Option('-n, --lines <n>', 'how many records').default('20').argParser(positiveInt('--lines')))
    .option('-f, --follow', 'wait for new records')
    .option('--json', 'one JSON object per line')
  addSettingOptions(tail, STORE_SETTINGS)
  tail.action(async (options: { lines: number; follow?: boolean; json?: boolean }, command: Command) => {
    await withStore(command, async (store) => {
      const last = await store.last(options.lines)
      for (const record of last) await printRecord(record, options.json === true)
      if (options.follow !== true) return
      let afterSeq = last.at(-1)?.seq ?? (await store.head()).seq
      let stopped = false
      const stop = () => (stopped = true)
      process.once('SIGINT', stop).once('SIGTERM', stop)
      while (!stopped) {
        const fresh = await store.list({ afterSeq }, 1000)
        for (const record of fresh) await printRecord(record, options.json === true)
        afterSeq = fresh.at(-1)?.seq ?? afterSeq
        if (fresh.length < 1000) await new Promise((resolve) => setTimeout(resolve, 250))
      }
    })
  })
}

function positiveInt(flag: string) {
  return (raw: string): number => {
    if (!/^\d{1,7}$/.test(raw) || Number(raw) < 1)
      throw new CliError(`invalid option ${flag}: must be a whole number from 1, got "${raw}"`, 2)
    return Number(raw)
  }
}

interface ExportOptions {
  since?: string
  until?: string
  key?: string
  outcome?: string
  kind?: string
  format: string
}

/** The filter of `audit export`; a usage error (exit 2) naming the bad option. */
function exportFilter(options: ExportOptions, now: number): AuditFilter {
  let filter: AuditFilter
  try {
    filter = parseTimeRange(options, now)
  } catch (error) {
    if (!(error instanceof TimeRangeError)) throw error
    throw new CliError(`invalid option --${error.param}: ${error.message}`, 2)
  }
  if (options.outcome !== undefined) {
    if (!(OUTCOMES as readonly string[]).includes(options.outcome))
      throw new CliError(`invalid option --outcome: must be one of ${OUTCOMES.join(', ')}`, 2)
    filter.outcome = options.outcome as Outcome
  }
  if (options.kind !== undefined) {
    if (!(RECORD_KINDS as readonly string[]).includes(options.kind))
      throw new CliError(`invalid option --kind: must be one of ${RECORD_KINDS.join(', ')}`, 2)
    filter.kind = options.kind as AuditFilter['kind']
  }
  if (options.key !== undefined) filter.keyId = options.key
  return filter
}

function registerExport(audit: Command): void {
  const exporter = audit
    .command('export')
    .description('write records as JSON lines or CSV to stdout, in sequence order')
    .option('--since <time>', 'records at or after: ISO 8601, epoch ms, or a duration ago (24h)')
    .option('--until <time>', 'records before: ISO 8601, epoch ms, or a duration ago')
    .option('--key <id>', 'only this key id')
    .option('--outcome <code>', `only this outcome: ${OUTCOMES.join(', ')}`)
    .option('--kind <kind>', `only this kind: ${RECORD_KINDS.join(', ')}`)
    .addOption(new Option('--format <format>', 'output format').choices(['jsonl', 'csv']).default('jsonl'))
  addSettingOptions(exporter, STORE_SETTINGS)
  exporter.action(async (options: ExportOptions, command: Command) => {
    const filter = exportFilter(options, Date.now())
    await withStore(command, async (store) => {
      if (options.format === 'csv') await writeLine(csvHeader())
      for (let afterSeq = 0; ;) {
        const page = await store.list({ ...filter, afterSeq }, 1000)
        for (const record of page) await writeLine(options.format === 'csv' ? csvRow(record) : JSON.stringify(recordJson(record)))
        if (page.length < 1000) return
        afterSeq = page[page.length - 1]!.seq
      }
    })
  })
}

export function registerAudit(program: Command): void {
  const audit = program.command('audit').description('verify, anchor, follow and export the tamper-evident audit log')
  registerVerify(audit)
  registerHead(audit)
  registerTail(audit)
  registerExport(audit)
}
