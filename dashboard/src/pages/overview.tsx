/** Overview: requests per minute by outcome over the last hour or day, p50/p99, top keys, LLM tokens. */
import { useEffect, useMemo, useState } from 'preact/hooks'
import { api, query } from '../api'
import { OutcomeChart } from '../components/chart'
import { TokenUsage } from '../components/token-usage'
import { ErrorBox, Loading } from '../components/status'
import { useLoad } from '../components/use-load'
import { formatMs } from '../format'
import { groupSeries } from '../outcomes'
import { href } from '../router'
import type { KeyTotals, UsageSummary } from '../types'

const RANGES = {
  hour: { label: 'Last hour', since: '1h', bucket: 'minute', bucketMs: 60_000 },
  day: { label: 'Last day', since: '24h', bucket: 'minute', bucketMs: 60_000 },
} as const
type RangeName = keyof typeof RANGES

const REFRESH_MS = 15_000

function TopKeys({ title, rows, column }: { title: string; rows: KeyTotals[]; column: 'requests' | 'rejections' }) {
  return (
    <section class="card">
      <h2>{title}</h2>
      {rows.length === 0 ? (
        <p class="muted">No requests in this range.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Key</th>
              <th scope="col" class="num">
                {column === 'requests' ? 'Requests' : 'Rejections'}
              </th>
              <th scope="col" class="num">
                {column === 'requests' ? 'Rejections' : 'Requests'}
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={row.key_id}>
                <td>
                  <a href={href('keys', row.key_id)}>{row.key_name ?? row.key_id}</a> <code class="muted">{row.key_prefix ?? ''}</code>
                </td>
                <td class="num">{row[column]}</td>
                <td class="num">{column === 'requests' ? row.rejections : row.requests}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}

export function Overview() {
  const [range, setRange] = useState<RangeName>('hour')
  const settings = RANGES[range]
  const summary = useLoad(
    () => api<UsageSummary>('GET', `/v1/usage/summary${query({ since: settings.since, bucket: settings.bucket, top: 10 })}`),
    [range],
  )
  useEffect(() => {
    const timer = window.setInterval(summary.reload, REFRESH_MS)
    return () => window.clearInterval(timer)
  }, [summary.reload])
  const data = summary.data
  const grouped = useMemo(
    () => (data ? groupSeries(data.series, Date.parse(data.since), Date.parse(data.until), settings.bucketMs) : null),
    [data, settings.bucketMs],
  )
  const total = data ? data.series.reduce((sum, point) => sum + point.requests, 0) : 0
  return (
    <>
      <div class="page-head">
        <h1>Overview</h1>
        <div class="toolbar">
          <label for="overview-range">Range</label>
          <select id="overview-range" value={range} onChange={(event) => setRange(event.currentTarget.value as RangeName)}>
            {Object.entries(RANGES).map(([name, value]) => (
              <option key={name} value={name}>
                {value.label}
              </option>
            ))}
          </select>
          <button type="button" onClick={summary.reload} disabled={summary.loading}>
            Refresh
          </button>
        </div>
      </div>
      {summary.error !== null && <ErrorBox error={summary.error} />}
      {data === null || grouped === null ? (
        summary.error === null && <Loading what="the overview" />
      ) : (
        <>
          <dl class="stats">
            <div>
              <dt>Requests</dt>
              <dd data-testid="total-requests">{total}</dd>
            </div>
            <div>
              <dt>p50 latency</dt>
              <dd data-testid="p50">{formatMs(data.latency_ms.p50)}</dd>
            </div>
            <div>
              <dt>p99 latency</dt>
              <dd data-testid="p99">{formatMs(data.latency_ms.p99)}</dd>
            </div>
          </dl>
          <OutcomeChart title={`Requests per minute by outcome (${settings.label.toLowerCase()})`} data={grouped} testId="overview-chart" />
          <div class="two-columns">
            <TopKeys title="Top keys by volume" rows={data.top_keys.by_requests} column="requests" />
            <TopKeys title="Top keys by rejections" rows={data.top_keys.by_rejections} column="rejections" />
          </div>
          <TokenUsage since={settings.since} />
        </>
      )}
    </>
  )
}
