/** Audit records as a table; every value rendered as text. */
import { formatMs, formatTime } from '../format'
import type { AuditRecord } from '../types'
import { TableHead } from './table-head'

export function AuditTable({ records, testId }: { records: AuditRecord[]; testId: string }) {
  if (records.length === 0) return <p class="muted">No records.</p>
  return (
    <div class="table-wrap">
      <table data-testid={testId}>
        <TableHead
          columns={['Seq', 'Time', 'Kind', 'Key', 'Request', 'Status', 'Outcome', { label: 'Latency', numeric: true }, 'Detail']}
        />
        <tbody>
          {records.map((record) => (
            <tr key={record.seq} data-outcome={record.outcome}>
              <td class="num">{record.seq}</td>
              <td>{formatTime(record.time)}</td>
              <td>{record.kind}</td>
              <td>
                <code>{record.key_prefix ?? record.key_id ?? '—'}</code>
              </td>
              <td>
                {record.kind === 'admin'
                  ? `${record.action ?? ''} by ${record.actor ?? '?'}`
                  : `${record.method ?? ''} ${record.route ?? ''}`}
              </td>
              <td>{record.status ?? '—'}</td>
              <td>
                <span class={`badge outcome-${record.outcome}`}>{record.outcome}</span>
              </td>
              <td class="num">{formatMs(record.latency_ms)}</td>
              <td class="detail">{record.detail === null ? (record.model ?? '') : JSON.stringify(record.detail)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  )
}
