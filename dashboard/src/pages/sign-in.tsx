/** Sign-in: the key must be accepted and carry the admin scope (checked with GET /v1/audit?limit=1). */
import { useState } from 'preact/hooks'
import { ApiError, requestWithKey } from '../api'

interface Props {
  message: string | null
  onSignedIn: (key: string) => void
}

function refusal(error: unknown): string {
  if (!(error instanceof ApiError)) return 'Sign-in failed.'
  if (error.status === 0) return error.message
  if (error.code === 'insufficient_scope')
    return 'This key is valid but has no admin scope. The dashboard needs a key with the admin scope.'
  if (error.code === 'invalid_api_key' || error.code === 'missing_api_key')
    return 'This key is not accepted: unknown, revoked, disabled or expired.'
  if (error.code === 'auth_rate_limited') return 'Too many failed sign-ins from this address. Wait a little and try again.'
  return `Sign-in failed: ${error.message}`
}

export function SignIn({ message, onSignedIn }: Props) {
  const [key, setKey] = useState('')
  const [error, setError] = useState<string | null>(null)
  const [busy, setBusy] = useState(false)
  const submit = async (event: Event) => {
    event.preventDefault()
    const candidate = key.trim()
    if (candidate === '') {
      setError('Enter an admin API key.')
      return
    }
    setBusy(true)
    setError(null)
    try {
      await requestWithKey(candidate, 'GET', '/v1/audit?limit=1')
      setKey('')
      onSignedIn(candidate)
    } catch (failure) {
      setError(refusal(failure))
    } finally {
      setBusy(false)
    }
  }
  return (
    <main class="sign-in" id="main">
      <h1>infergate dashboard</h1>
      {message !== null && (
        <p class="notice" role="status">
          {message}
        </p>
      )}
      <form onSubmit={(event) => void submit(event)} aria-describedby="sign-in-help">
        <label for="admin-key">Admin API key</label>
        <input
          id="admin-key"
          name="admin-key"
          type="password"
          autocomplete="off"
          spellcheck={false}
          value={key}
          onInput={(event) => setKey(event.currentTarget.value)}
          autoFocus
        />
        <p id="sign-in-help" class="help">
          The key stays in this tab only (sessionStorage) and is sent as X-API-Key. Closing the tab or signing out forgets it.
        </p>
        <button type="submit" disabled={busy}>
          {busy ? 'Signing in…' : 'Sign in'}
        </button>
        {error !== null && (
          <p class="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </main>
  )
}
