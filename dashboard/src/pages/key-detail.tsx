/** One key: its fields, actions (rotate, disable/enable, revoke), its policy (addresses, concurrency, credits), limits with remaining, usage and audit. */
import { useState } from 'preact/hooks'
import { api, query } from '../api'
import { AuditTable } from '../components/audit-table'
import { OutcomeChart } from '../components/chart'
import { ConfirmDialog } from '../components/confirm'
import { PolicyForm } from '../components/policy-form'
import { SecretPanel } from '../components/secret'
import { ErrorBox, Loading, Notice } from '../components/status'
import { useLoad } from '../components/use-load'
import { formatTime } from '../format'
import { groupSeries } from '../outcomes'
import { href } from '../router'
import type { ApiKey, AuditPage, KeyDetail, RotatedKey, SeriesPoint, UsageRow } from '../types'
import { TableHead } from '../components/table-head'

const HOUR = 3_600_000
const RECENT_RECORDS = 20

function creditsText({ credits }: KeyDetail): string {
  if (credits === null) return 'unlimited'
  const refill = credits.refill ? `, set back to ${credits.refill.amount} every ${credits.refill.every}` : ''
  const next = credits.next_refill_at ? ` (next ${formatTime(credits.next_refill_at)})` : ''
  // A balance in tokens says so; one in requests reads as before.
  const unit = credits.unit === 'tokens' ? ' tokens' : ''
  return `${credits.remaining}${unit} left${refill}${next}`
}

function KeyFields({ detail }: { detail: KeyDetail }) {
  const rows: [string, string][] = [
    ['Id', detail.id],
    ['Owner', detail.owner],
    ['Prefix', detail.prefix],
    ['Status', detail.status],
    ['Scopes', detail.scopes.join(', ')],
    ['Models', detail.models === null ? 'all' : detail.models.join(', ')],
    ['Allowed addresses', detail.allowed_ips === null ? 'any' : detail.allowed_ips.join(', ')],
    ['Concurrency cap', detail.concurrency === null ? 'none' : `${detail.concurrency} in flight`],
    ['Credits', creditsText(detail)],
    [
      'Limits',
      detail.limits === null ? 'server default' : detail.limits.map((rule) => `${rule.name}: ${rule.limit}/${rule.window}`).join(', '),
    ],
    ['Created', formatTime(detail.created_at)],
    ['Expires', formatTime(detail.expires_at)],
    ['Last used', formatTime(detail.last_used_at)],
  ]
  if (detail.metadata !== null) rows.push(['Metadata', JSON.stringify(detail.metadata)])
  if (detail.revoked_at !== null) rows.push(['Revoked', formatTime(detail.revoked_at)])
  if (detail.grace_ends_at !== null) rows.push(['Grace ends', formatTime(detail.grace_ends_at)])
  return (
    <dl class="fields">
      {rows.map(([name, value]) => (
        <div key={name}>
          <dt>{name}</dt>
          <dd>{value}</dd>
        </div>
      ))}
      {detail.rotated_to !== null && (
        <div>
          <dt>Rotated to</dt>
          <dd>
            <a href={href('keys', detail.rotated_to)}>{detail.rotated_to}</a>
          </dd>
        </div>
      )}
    </dl>
  )
}

function LimitStateTable({ detail }: { detail: KeyDetail }) {
  const states = detail.limit_state ?? []
  if (states.length === 0) return <p class="muted">No limits apply to this key.</p>
  return (
    <table data-testid="limit-state">
      <TableHead
        columns={[
          'Subject',
          'Window',
          { label: 'Limit', numeric: true },
          { label: 'Remaining', numeric: true },
          { label: 'Resets in', numeric: true },
          'Counts',
        ]}
      />
      <tbody>
        {states.map((state, index) => (
          <tr key={index}>
            <td>{state.subject}</td>
            <td>{state.window}</td>
            <td class="num">{state.limit}</td>
            <td class="num">{state.remaining}</td>
            <td class="num">{state.reset_seconds} s</td>
            <td>{state.unit}</td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

function asSeries(rows: UsageRow[]): SeriesPoint[] {
  return rows.map((row) => ({ bucket_start: row.bucket_start, requests: row.requests, outcomes: row.outcomes }))
}

function KeyUsage({ id }: { id: string }) {
  const usage = useLoad(async () => {
    const until = Date.now()
    const page = await api<{ rows: UsageRow[] }>(
      'GET',
      `/v1/usage${query({ key: id, bucket: 'minute', since: String(until - HOUR), until: String(until), limit: 1000 })}`,
    )
    return groupSeries(asSeries(page.rows), until - HOUR, until, 60_000)
  }, [id])
  if (usage.error !== null) return <ErrorBox error={usage.error} />
  if (usage.data === null) return <Loading what="usage" />
  return <OutcomeChart title="Requests per minute, last hour" data={usage.data} testId="key-usage-chart" />
}

function RecentAudit({ id }: { id: string }) {
  const audit = useLoad(() => api<AuditPage>('GET', `/v1/audit${query({ key: id, order: 'desc', limit: RECENT_RECORDS })}`), [id])
  if (audit.error !== null) return <ErrorBox error={audit.error} />
  if (audit.data === null) return <Loading what="audit records" />
  return <AuditTable records={audit.data.records} testId="key-audit" />
}

export function KeyPage({ id }: { id: string }) {
  const detail = useLoad(() => api<KeyDetail>('GET', `/v1/keys/${encodeURIComponent(id)}`), [id])
  const [actionError, setActionError] = useState<unknown>(null)
  const [notice, setNotice] = useState<string | null>(null)
  const [rotated, setRotated] = useState<RotatedKey | null>(null)
  const [grace, setGrace] = useState('24h')
  const [pending, setPending] = useState<'revoke' | null>(null)
  const act = async (what: string, run: () => Promise<unknown>) => {
    setActionError(null)
    setNotice(null)
    try {
      await run()
      setNotice(what)
      detail.reload()
    } catch (failure) {
      setActionError(failure)
    }
  }
  const key = detail.data
  if (detail.error !== null)
    return (
      <ErrorBox error={detail.error}>
        <a href={href('keys')}>Back to the keys</a>
      </ErrorBox>
    )
  if (key === null) return <Loading what="the key" />
  const active = key.status !== 'revoked'
  return (
    <>
      <div class="page-head">
        <h1>
          Key <span data-testid="key-name">{key.name}</span>
        </h1>
        <a href={href('keys')}>All keys</a>
      </div>
      {rotated !== null && <SecretPanel title="New key after rotation" secret={rotated.key} onDone={() => setRotated(null)} />}
      {notice !== null && <Notice>{notice}</Notice>}
      {actionError !== null && <ErrorBox error={actionError} />}
      <section class="card">
        <KeyFields detail={key} />
        {active && (
          <div class="actions">
            <form
              class="row"
              onSubmit={(event) => {
                event.preventDefault()
                void act('Key rotated: the old key keeps working until its grace ends.', async () => {
                  setRotated(await api<RotatedKey>('POST', `/v1/keys/${encodeURIComponent(id)}/rotate`, { grace }))
                })
              }}
            >
              <label for="rotate-grace">Grace for the old key</label>
              <input id="rotate-grace" value={grace} onInput={(event) => setGrace(event.currentTarget.value)} size={6} />
              <button type="submit">Rotate</button>
            </form>
            <button
              type="button"
              class="secondary"
              onClick={() =>
                void act(key.enabled ? 'Key disabled.' : 'Key enabled.', () =>
                  api<ApiKey>('PATCH', `/v1/keys/${encodeURIComponent(id)}`, { enabled: !key.enabled }),
                )
              }
            >
              {key.enabled ? 'Disable' : 'Enable'}
            </button>
            <button type="button" class="danger" onClick={() => setPending('revoke')}>
              Revoke
            </button>
          </div>
        )}
      </section>
      <ConfirmDialog
        open={pending === 'revoke'}
        title="Revoke this key?"
        message={`“${key.name}” (${key.prefix}) will be refused from now on. This cannot be undone.`}
        confirmLabel="Revoke key"
        onCancel={() => setPending(null)}
        onConfirm={() => {
          setPending(null)
          void act('Key revoked.', () => api<ApiKey>('DELETE', `/v1/keys/${encodeURIComponent(id)}`))
        }}
      />
      {active && (
        <section class="card">
          <h2>Policy</h2>
          <PolicyForm
            key={`${key.updated_at}`}
            apiKey={key}
            onSave={(change) => {
              if (Object.keys(change).length === 0) setNotice('Nothing changed.')
              else void act('Policy saved.', () => api<ApiKey>('PATCH', `/v1/keys/${encodeURIComponent(id)}`, change))
            }}
          />
        </section>
      )}
      <section class="card">
        <h2>Limits and current remaining</h2>
        <LimitStateTable detail={key} />
      </section>
      <section class="card">
        <h2>Usage</h2>
        <KeyUsage id={id} />
      </section>
      <section class="card">
        <h2>Recent audit records</h2>
        <RecentAudit id={id} />
      </section>
    </>
  )
}
