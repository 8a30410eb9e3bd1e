/** Loading and error states, announced to screen readers. */
import type { ComponentChildren } from 'preact'
import { errorMessage } from '../api'

export function Loading({ what }: { what: string }) {
  return (
    <p class="loading" role="status" aria-live="polite">
      Loading {what}…
    </p>
  )
}

export function ErrorBox({ error, children }: { error: unknown; children?: ComponentChildren }) {
  return (
    <div class="error" role="alert">
      <p>{errorMessage(error)}</p>
      {children}
    </div>
  )
}

export function Notice({ children }: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status" aria-live="polite">
      {children}
    </p>
  )
}
