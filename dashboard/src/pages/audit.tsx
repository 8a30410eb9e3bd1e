/** Audit: the log filtered by time, key, outcome and kind, a page at a time; "verify chain". */
import { useState } from 'preact/hooks'
import { api, query } from '../api'
import { AuditTable } from '../components/audit-table'
import { ErrorBox, Loading } from '../components/status'
import { useLoad } from '../components/use-load'
import { OUTCOMES } from '../types'
import type { AuditPage, VerifyReport } from '../types'

const PAGE_SIZE = 50
const SINCE = [
  ['15m', 'last 15 minutes'],
  ['1h', 'last hour'],
  ['24h', 'last day'],
  ['7d', 'last 7 days'],
  ['', 'all time'],
] as const

interface Filters {
  since: string
  key: string
  outcome: string
  kind: string
  order: 'desc' | 'asc'
}

function describe(report: VerifyReport): string {
  if (report.intact) return `${report.records} records, chain intact`
  const broken = report.break!
  return `Chain broken at seq ${broken.seq}: ${broken.kind} (${broken.explanation}); ${report.records} records intact before it`
}

function VerifyChain() {
  const [report, setReport] = useState<VerifyReport | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const verify = async () => {
    setBusy(true)
    setError(null)
    try {
      setReport(await api<VerifyReport>('POST', '/v1/audit/verify'))
    } catch (failure) {
      setError(failure)
    } finally {
      setBusy(false)
    }
  }
  return (
    <div class="verify">
      <button type="button" onClick={() => void verify()} disabled={busy}>
        {busy ? 'Verifying…' : 'Verify chain'}
      </button>
      <span role="status" aria-live="polite" data-testid="verify-result" class={report === null ? '' : report.intact ? 'ok' : 'bad'}>
        {report === null ? '' : describe(report)}
      </span>
      {error !== null && <ErrorBox error={error} />}
    </div>
  )
}

export function Audit() {
  const [draft, setDraft] = useState<Filters>({ since: '24h', key: '', outcome: '', kind: '', order: 'desc' })
  const [filters, setFilters] = useState<Filters>(draft)
  // Seq cursors of the pages seen so far: [0] is the first page (no cursor).
  const [cursors, setCursors] = useState<(number | undefined)[]>([undefined])
  const cursor = cursors[cursors.length - 1]
  const page = useLoad(() => {
    const paging = filters.order === 'desc' ? { before: cursor } : { after: cursor }
    return api<AuditPage>('GET', `/v1/audit${query({ ...filters, ...paging, limit: PAGE_SIZE })}`)
  }, [filters, cursor])
  const next = page.data === null ? null : filters.order === 'desc' ? page.data.next_before : page.data.next_after
  const set = (name: keyof Filters) => (event: Event) => setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value })
  return (
    <>
      <div class="page-head">
        <h1>Audit log</h1>
        <VerifyChain />
      </div>
      <form
        class="filters"
        onSubmit={(event) => {
          event.preventDefault()
          setCursors([undefined])
          setFilters(draft)
        }}
      >
        <label for="audit-since">Since</label>
        <select id="audit-since" value={draft.since} onChange={set('since')}>
          {SINCE.map(([value, label]) => (
            <option key={value} value={value}>
              {label}
            </option>
          ))}
        </select>
        <label for="audit-key">Key id</label>
        <input id="audit-key" value={draft.key} onInput={set('key')} placeholder="key_…" pattern="key_[0-9A-Za-z]{1,64}" />
        <label for="audit-outcome">Outcome</label>
        <select id="audit-outcome" value={draft.outcome} onChange={set('outcome')}>
          <option value="">any</option>
          {OUTCOMES.map((outcome) => (
            <option key={outcome} value={outcome}>
              {outcome}
            </option>
          ))}
        </select>
        <label for="audit-kind">Kind</label>
        <select id="audit-kind" value={draft.kind} onChange={set('kind')}>
          <option value="">any</option>
          <option value="request">request</option>
          <option value="admin">admin</option>
          <option value="unaudited">unaudited</option>
          <option value="unauthenticated">unauthenticated</option>
        </select>
        <label for="audit-order">Order</label>
        <select id="audit-order" value={draft.order} onChange={set('order')}>
          <option value="desc">newest first</option>
          <option value="asc">oldest first</option>
        </select>
        <button type="submit">Apply</button>
        <button type="button" class="secondary" onClick={page.reload}>
          Refresh
        </button>
      </form>
      {page.error !== null && <ErrorBox error={page.error} />}
      {page.data === null ? (
        page.error === null && <Loading what="audit records" />
      ) : (
        <>
          <AuditTable records={page.data.records} testId="audit-table" />
          <div class="pager">
            <button type="button" disabled={cursors.length === 1} onClick={() => setCursors(cursors.slice(0, -1))}>
              Previous page
            </button>
            <span class="muted">Page {cursors.length}</span>
            <button type="button" disabled={next === null} onClick={() => setCursors([...cursors, next ?? undefined])}>
              Next page
            </button>
          </div>
        </>
      )}
    </>
  )
}
