/** A key's access policy, edited in place: the addresses it may be used from and its concurrency cap. */
import { useState } from 'preact/hooks'
import type { ApiKey } from '../types'

export interface PolicyChange {
  allowed_ips: string[] | null
  concurrency: number | null
}

const splitList = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)

/** The change the form describes; the server checks it (422 with the reason otherwise). */
function policyOf(addresses: string, concurrency: string): PolicyChange {
  const list = splitList(addresses)
  return {
    allowed_ips: list.length === 0 ? null : list,
    concurrency: concurrency.trim() === '' ? null : Number(concurrency),
  }
}

export function PolicyForm({ apiKey, onSave }: { apiKey: ApiKey; onSave: (change: PolicyChange) => void }) {
  const [addresses, setAddresses] = useState(apiKey.allowed_ips?.join(', ') ?? '')
  const [concurrency, setConcurrency] = useState(apiKey.concurrency === null ? '' : String(apiKey.concurrency))
  return (
    <form
      class="grid-form"
      data-testid="policy-form"
      onSubmit={(event) => {
        event.preventDefault()
        onSave(policyOf(addresses, concurrency))
      }}
    >
      <label for="policy-ips">Allowed addresses (CIDR ranges, comma-separated; empty = any address)</label>
      <input id="policy-ips" value={addresses} onInput={(event) => setAddresses(event.currentTarget.value)} />
      <label for="policy-concurrency">Concurrency cap (requests in flight at once; empty = no cap)</label>
      <input
        id="policy-concurrency"
        type="number"
        min={1}
        step={1}
        value={concurrency}
        onInput={(event) => setConcurrency(event.currentTarget.value)}
        size={6}
      />
      <button type="submit">Save policy</button>
    </form>
  )
}
