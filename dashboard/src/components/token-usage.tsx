/** LLM tokens in and out per key, model and day (`GET /v1/usage/tokens`), for the overview. */
import { api, query } from '../api'
import { href } from '../router'
import type { TokenUsagePage } from '../types'
import { ErrorBox, Loading } from './status'
import { useLoad } from './use-load'

export function TokenUsage({ since }: { since: string }) {
  const usage = useLoad(() => api<TokenUsagePage>('GET', `/v1/usage/tokens${query({ since, bucket: 'day', limit: 100 })}`), [since])
  const rows = usage.data?.rows ?? []
  return (
    <section class="card" data-testid="token-usage">
      <h2>LLM tokens per key, model and day</h2>
      {usage.error !== null && <ErrorBox error={usage.error} />}
      {usage.data === null ? (
        usage.error === null && <Loading what="the token usage" />
      ) : rows.length === 0 ? (
        <p class="muted">No LLM requests in this range.</p>
      ) : (
        <table>
          <thead>
            <tr>
              <th scope="col">Day (UTC)</th>
              <th scope="col">Key</th>
              <th scope="col">Model</th>
              <th scope="col" class="num">
                Requests
              </th>
              <th scope="col" class="num">
                Tokens in
              </th>
              <th scope="col" class="num">
                Tokens out
              </th>
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={`${row.bucket_start}-${row.key_id}-${row.model}`}>
                <td>{row.bucket_start.slice(0, 10)}</td>
                <td>
                  <a href={href('keys', row.key_id)}>{row.key_id}</a>
                </td>
                <td>{row.model}</td>
                <td class="num">{row.requests}</td>
                <td class="num">{row.tokens_in}</td>
                <td class="num">{row.tokens_out}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  )
}
