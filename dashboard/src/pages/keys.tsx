/** Keys: the list with filters and search, and the form that creates a key. */
import { useState } from 'preact/hooks'
import { api, query } from '../api'
import { SecretPanel } from '../components/secret'
import { ErrorBox, Loading } from '../components/status'
import { useLoad } from '../components/use-load'
import { formatTime, splitList } from '../format'
import { href } from '../router'
import type { CreatedKey, KeyPage } from '../types'
import { KEY_STATUSES } from '../types'
import { TableHead } from '../components/table-head'

const PAGE_SIZE = 50

interface Filters {
  owner: string
  status: string
  scope: string
  q: string
}

const EMPTY: Filters = { owner: '', status: '', scope: '', q: '' }

function CreateKeyForm({ onCreated }: { onCreated: (key: CreatedKey) => void }) {
  const [error, setError] = useState<unknown>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const form = new FormData(event.currentTarget as HTMLFormElement)
    const text = (name: string) => {
      const value = form.get(name)
      return typeof value === 'string' ? value.trim() : ''
    }
    const models = splitList(text('models'))
    const limits = splitList(text('limits'))
    const expiresIn = text('expires_in')
    const body = {
      name: text('name'),
      owner: text('owner'),
      scopes: form.getAll('scopes').filter((value): value is string => typeof value === 'string'),
      models: models.length === 0 ? null : models,
      limits: limits.length === 0 ? null : limits,
      ...(expiresIn === '' ? {} : { expires_in: expiresIn }),
    }
    setBusy(true)
    setError(null)
    try {
      const created = await api<CreatedKey>('POST', '/v1/keys', body)
      ;(event.currentTarget as HTMLFormElement | null)?.reset()
      onCreated(created)
    } catch (failure) {
      setError(failure)
    } finally {
      setBusy(false)
    }
  }
  return (
    <details class="card">
      <summary>Create a key</summary>
      <form class="grid-form" onSubmit={(event) => void submit(event)}>
        <label for="new-name">Name</label>
        <input id="new-name" name="name" required maxLength={200} />
        <label for="new-owner">Owner</label>
        <input id="new-owner" name="owner" required pattern="[A-Za-z0-9_.\-]{1,255}" title="Letters, digits, _ . - (up to 255)" />
        <fieldset>
          <legend>Scopes</legend>
          <label>
            <input type="checkbox" name="scopes" value="predict" defaultChecked /> predict
          </label>
          <label>
            <input type="checkbox" name="scopes" value="admin" /> admin
          </label>
        </fieldset>
        <label for="new-models">Models (comma-separated; empty = all)</label>
        <input id="new-models" name="models" />
        <label for="new-limits">Limits (e.g. 60/1m, burst=10/5s; empty = server default)</label>
        <input id="new-limits" name="limits" />
        <label for="new-expiry">Expires in (e.g. 30d; empty = never)</label>
        <input id="new-expiry" name="expires_in" pattern="\d+\s*(s|m|h|d|w)" title="A duration such as 12h or 30d" />
        <button type="submit" disabled={busy}>
          {busy ? 'Creating…' : 'Create key'}
        </button>
      </form>
      {error !== null && <ErrorBox error={error} />}
    </details>
  )
}

export function Keys() {
  const [filters, setFilters] = useState<Filters>(EMPTY)
  const [draft, setDraft] = useState<Filters>(EMPTY)
  const [offset, setOffset] = useState(0)
  const [created, setCreated] = useState<CreatedKey | null>(null)
  const list = useLoad(() => api<KeyPage>('GET', `/v1/keys${query({ ...filters, offset, limit: PAGE_SIZE })}`), [filters, offset])
  const field = (name: keyof Filters) => ({
    id: `filter-${name}`,
    value: draft[name],
    onInput: (event: Event) => setDraft({ ...draft, [name]: (event.currentTarget as HTMLInputElement).value }),
  })
  return (
    <>
      <div class="page-head">
        <h1>Keys</h1>
      </div>
      {created !== null && <SecretPanel title={`Key “${created.name}” created`} secret={created.key} onDone={() => setCreated(null)} />}
      <CreateKeyForm
        onCreated={(key) => {
          setCreated(key)
          list.reload()
        }}
      />
      <form
        class="filters"
        role="search"
        onSubmit={(event) => {
          event.preventDefault()
          setOffset(0)
          setFilters(draft)
        }}
      >
        <label for="filter-q">Search</label>
        <input type="search" placeholder="name or igk_ prefix" {...field('q')} />
        <label for="filter-owner">Owner filter</label>
        <input {...field('owner')} />
        <label for="filter-status">Status filter</label>
        <select {...field('status')} onChange={(event) => setDraft({ ...draft, status: event.currentTarget.value })}>
          <option value="">any</option>
          {KEY_STATUSES.map((status) => (
            <option key={status} value={status}>
              {status}
            </option>
          ))}
        </select>
        <label for="filter-scope">Scope filter</label>
        <select {...field('scope')} onChange={(event) => setDraft({ ...draft, scope: event.currentTarget.value })}>
          <option value="">any</option>
          <option value="predict">predict</option>
          <option value="admin">admin</option>
        </select>
        <button type="submit">Apply</button>
      </form>
      {list.error !== null && <ErrorBox error={list.error} />}
      {list.data === null ? (
        list.error === null && <Loading what="keys" />
      ) : (
        <>
          <p class="muted" aria-live="polite">
            {list.data.total} key{list.data.total === 1 ? '' : 's'}
          </p>
          <div class="table-wrap">
            <table data-testid="keys-table">
              <TableHead columns={['Name', 'Owner', 'Prefix', 'Status', 'Scopes', 'Last used']} />
              <tbody>
                {list.data.keys.map((key) => (
                  <tr key={key.id} data-key-id={key.id}>
                    <td>
                      <a href={href('keys', key.id)}>{key.name}</a>
                    </td>
                    <td>{key.owner}</td>
                    <td>
                      <code>{key.prefix}</code>
                    </td>
                    <td>
                      <span class={`badge status-${key.status}`}>{key.status}</span>
                    </td>
                    <td>{key.scopes.join(', ')}</td>
                    <td>{formatTime(key.last_used_at)}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
          <div class="pager">
            <button type="button" disabled={offset === 0} onClick={() => setOffset(Math.max(0, offset - PAGE_SIZE))}>
              Previous
            </button>
            <button type="button" disabled={list.data.next_offset === null} onClick={() => setOffset(list.data?.next_offset ?? 0)}>
              Next
            </button>
          </div>
        </>
      )}
    </>
  )
}
