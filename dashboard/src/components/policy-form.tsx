/**
 * A key's policy, edited in place: the addresses it may be used from, its concurrency cap and
 * its credit balance. Only what the operator changed is sent: saving the addresses must not set
 * back a balance that requests have been spending since the page was loaded.
 */
import { useState } from 'preact/hooks'
import type { ApiKey } from '../types'

type CreditsChange = { remaining: number; refill: { amount: number; every: string } | null } | null

export interface PolicyChange {
  allowed_ips?: string[] | null
  concurrency?: number | null
  credits?: CreditsChange
}

const splitList = (value: string) =>
  value
    .split(',')
    .map((part) => part.trim())
    .filter(Boolean)

/** `1000/30d` → `{amount: 1000, every: "30d"}`; the server checks both (422 with the reason otherwise). */
function refillOf(text: string): { amount: number; every: string } | null {
  if (text.trim() === '') return null
  const [amount = '', every = ''] = text.split('/')
  return { amount: Number(amount.trim()), every: every.trim() }
}

const refillText = (apiKey: ApiKey) => (apiKey.credits?.refill ? `${apiKey.credits.refill.amount}/${apiKey.credits.refill.every}` : '')

/** The fields as loaded, and what saving them now would change. */
function changeOf(apiKey: ApiKey, form: Record<'addresses' | 'concurrency' | 'balance' | 'refill', string>): PolicyChange {
  const change: PolicyChange = {}
  if (form.addresses !== (apiKey.allowed_ips?.join(', ') ?? '')) {
    const list = splitList(form.addresses)
    change.allowed_ips = list.length === 0 ? null : list
  }
  if (form.concurrency !== (apiKey.concurrency === null ? '' : String(apiKey.concurrency)))
    change.concurrency = form.concurrency.trim() === '' ? null : Number(form.concurrency)
  const balanceChanged = form.balance !== (apiKey.credits === null ? '' : String(apiKey.credits.remaining))
  if (balanceChanged || form.refill !== refillText(apiKey))
    change.credits = form.balance.trim() === '' ? null : { remaining: Number(form.balance), refill: refillOf(form.refill) }
  return change
}

function WholeNumber(props: { id: string; min: number; value: string; onInput: (value: string) => void }) {
  return (
    <input
      id={props.id}
      type="number"
      min={props.min}
      step={1}
      value={props.value}
      onInput={(event) => props.onInput(event.currentTarget.value)}
      size={10}
    />
  )
}

export function PolicyForm({ apiKey, onSave }: { apiKey: ApiKey; onSave: (change: PolicyChange) => void }) {
  const [addresses, setAddresses] = useState(apiKey.allowed_ips?.join(', ') ?? '')
  const [concurrency, setConcurrency] = useState(apiKey.concurrency === null ? '' : String(apiKey.concurrency))
  const [balance, setBalance] = useState(apiKey.credits === null ? '' : String(apiKey.credits.remaining))
  const [refill, setRefill] = useState(refillText(apiKey))
  return (
    <form
      class="grid-form"
      data-testid="policy-form"
      onSubmit={(event) => {
        event.preventDefault()
        onSave(changeOf(apiKey, { addresses, concurrency, balance, refill }))
      }}
    >
      <label for="policy-ips">Allowed addresses (CIDR ranges, comma-separated; empty = any address)</label>
      <input id="policy-ips" value={addresses} onInput={(event) => setAddresses(event.currentTarget.value)} />
      <label for="policy-concurrency">Concurrency cap (requests in flight at once; empty = no cap)</label>
      <WholeNumber id="policy-concurrency" min={1} value={concurrency} onInput={setConcurrency} />
      <label for="policy-credits">Credit balance (in its unit, requests or tokens, which a change keeps; empty = unlimited)</label>
      <WholeNumber id="policy-credits" min={0} value={balance} onInput={setBalance} />
      <label for="policy-refill">Refill (e.g. 1000/30d: set back to 1000 every 30 days; empty = none)</label>
      <input id="policy-refill" value={refill} onInput={(event) => setRefill(event.currentTarget.value)} size={12} />
      <button type="submit">Save policy</button>
    </form>
  )
}
