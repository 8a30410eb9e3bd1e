/** Jobs: every key's jobs (admin), newest first, with progress and a cancel button. */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, api, query } from '../api'
import { ErrorBox, Loading } from '../components/status'
import { useLoad } from '../components/use-load'
import { formatTime } from '../format'
import type { Job } from '../types'
import { TableHead } from '../components/table-head'

const PAGE_SIZE = 50
const REFRESH_MS = 5_000
const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled']

export function Jobs() {
  const [status, setStatus] = useState('')
  const [offset, setOffset] = useState(0)
  const [cancelError, setCancelError] = useState<unknown>(null)
  const jobs = useLoad(
    () => api<{ jobs: Job[]; next_offset: number | null }>('GET', `/v1/jobs${query({ status, offset, limit: PAGE_SIZE })}`),
    [status, offset],
  )
  useEffect(() => {
    const timer = window.setInterval(jobs.reload, REFRESH_MS)
    return () => window.clearInterval(timer)
  }, [jobs.reload])
  const cancel = async (id: string) => {
    setCancelError(null)
    try {
      await api('DELETE', `/v1/jobs/${encodeURIComponent(id)}`)
    } catch (failure) {
      setCancelError(failure)
    }
    jobs.reload()
  }
  const scopeMissing = jobs.error instanceof ApiError && jobs.error.code === 'insufficient_scope'
  return (
    <>
      <div class="page-head">
        <h1>Jobs</h1>
        <div class="toolbar">
          <label for="jobs-status">Status</label>
          <select
            id="jobs-status"
            value={status}
            onChange={(event) => {
              setOffset(0)
              setStatus(event.currentTarget.value)
            }}
          >
            <option value="">any</option>
            {STATUSES.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
          <button type="button" onClick={jobs.reload}>
            Refresh
          </button>
        </div>
      </div>
      {scopeMissing ? (
        <p class="notice" role="alert">
          This key may not list jobs: sign in with an admin key.
        </p>
      ) : (
        jobs.error !== null && <ErrorBox error={jobs.error} />
      )}
      {cancelError !== null && <ErrorBox error={cancelError} />}
      {jobs.data === null ? (
        jobs.error === null && <Loading what="jobs" />
      ) : jobs.data.jobs.length === 0 ? (
        <p class="muted">No jobs.</p>
      ) : (
        <div class="table-wrap">
          <table data-testid="jobs-table">
            <TableHead columns={['Job', 'Model', 'Status', 'Progress', 'Created', 'Action']} />
            <tbody>
              {jobs.data.jobs.map((job) => (
                <tr key={job.id}>
                  <td>
                    <code>{job.id}</code>
                  </td>
                  <td>{job.model}</td>
                  <td>
                    <span class={`badge job-${job.status}`}>{job.status}</span>
                    {job.error !== null && <span class="muted"> {job.error}</span>}
                  </td>
                  <td>
                    <progress max={job.total} value={job.done} aria-label={`Progress of ${job.id}`} /> {job.done}/{job.total}
                  </td>
                  <td>{formatTime(job.created_at)}</td>
                  <td>
                    {(job.status === 'queued' || job.status === 'running') && (
                      <button type="button" class="secondary" onClick={() => void cancel(job.id)} aria-label={`Cancel ${job.id}`}>
                        Cancel
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {jobs.data !== null && (
        <div class="pager">
          <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
            Previous
          </button>
          <button type="button" disabled={jobs.data.next_offset === null} onClick={() => setOffset(jobs.data?.next_offset ?? 0)}>
            Next
          </button>
        </div>
      )}
    </>
  )
}
