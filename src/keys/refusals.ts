/**
 * The one vocabulary for "no": why a presented key is refused, why a request failed
 * authentication, and why a change to a key was refused — with the one table of sentences
 * that the HTTP API and the CLI both show for a refused change.
 *
 * A key's *status* (`KeyStatus` in types.ts: active, disabled, expired, revoked, rotated) is a
 * different thing: the state of a stored key, shown in lists. The audit log's outcome for each
 * authentication failure is in `http/outcome.ts`.
 */

/**
 * Why a presented key is refused. Callers all see the same 403 `invalid_api_key`; the audit
 * log keeps this. `malformed`: not shaped like a key (or a bad checksum); `unknown`: no such
 * key; `rotated`: replaced by another key and past its grace period.
 */
export type KeyRefusal = 'malformed' | 'unknown' | 'revoked' | 'expired' | 'disabled' | 'rotated'

/**
 * Why authentication failed: no key at all, a refused one, or an accepted key used from an
 * address outside its (or its owner's) IP allow-list.
 */
export type AuthFailure = 'missing' | KeyRefusal | 'ip_not_allowed'

/**
 * Why a change to a key was refused: no such key; the key is revoked (or already replaced, for a
 * rotation); or it is the last active admin key, which must not be lost.
 */
export type ChangeRefusal = 'not_found' | 'revoked' | 'rotated' | 'last_admin'
export type ChangeResult<T> = { ok: true; value: T } | { ok: false; reason: ChangeRefusal }

/** The value of a change that was made; for a refused one, throws what `refusal` makes of it (HTTP: an AppError; CLI: one line). */
export function changedOrThrow<T>(id: string, result: ChangeResult<T>, refusal: (id: string, reason: ChangeRefusal) => Error): T {
  if (!result.ok) throw refusal(id, result.reason)
  return result.value
}

/** The sentence for a refused change of key `id`, lower-case first (the CLI's line; HTTP capitalises it). */
export function changeRefusalMessage(id: string, reason: ChangeRefusal): string {
  switch (reason) {
    case 'not_found':
      return `no key with id ${id}`
    case 'revoked':
      return `key ${id} was already revoked`
    case 'rotated':
      return `key ${id} was already rotated`
    case 'last_admin':
      return `key ${id} is the last active admin key (or the last without an expiry): create another admin key without an expiry first`
  }
}
