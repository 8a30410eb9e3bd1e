/**
 * Calls to the infergate API with the signed-in key in `X-API-Key`. Errors become `ApiError`s
 * carrying the documented `{detail, code, request_id}`; a session key that stops being accepted
 * ends the session (see `onSessionLost`).
 */
import { sessionKey } from './session'

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Headers | null = null,
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** Answer to a failed fetch (the server is down or unreachable). */
const UNREACHABLE = 'unreachable'

type SessionLostListener = (message: string) => void
let sessionLost: SessionLostListener = () => {}

/** Called when the signed-in key is refused (revoked, disabled, expired) or loses its admin scope. */
export function onSessionLost(listener: SessionLostListener): void {
  sessionLost = listener
}

function detailText(detail: unknown): string {
  if (typeof detail === 'string') return detail
  if (Array.isArray(detail)) {
    return detail
      .map((issue: { loc?: unknown[]; msg?: string }) => `${(issue.loc ?? []).slice(1).join('.') || 'request'}: ${issue.msg ?? 'invalid'}`)
      .join('; ')
  }
  return 'The server refused the request'
}

export interface RawResponse<T> {
  status: number
  headers: Headers
  body: T
}

/** One request with an explicit key; throws ApiError for any non-2xx answer. */
export async function requestWithKey<T>(key: string, method: string, path: string, body?: unknown): Promise<RawResponse<T>> {
  const headers: Record<string, string> = { 'X-API-Key': key, Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let response: Response
  try {
    response = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
      credentials: 'omit',
    })
  } catch {
    throw new ApiError(0, UNREACHABLE, 'The server cannot be reached. Is infergate running?')
  }
  const text = await response.text()
  let parsed: unknown
  try {
    parsed = text === '' ? null : JSON.parse(text)
  } catch {
    parsed = null
  }
  if (!response.ok) {
    const error = (parsed ?? {}) as { code?: string; detail?: unknown }
    throw new ApiError(
      response.status,
      error.code ?? `http_${response.status}`,
      detailText(error.detail ?? response.statusText),
      response.headers,
    )
  }
  return { status: response.status, headers: response.headers, body: parsed as T }
}

/** Whether an error means the key itself is not (or no longer) accepted. */
function isKeyRefused(error: unknown): boolean {
  return error instanceof ApiError && (error.code === 'invalid_api_key' || error.code === 'missing_api_key')
}

/** A request with the signed-in key; a refused key ends the session. */
export async function api<T>(method: string, path: string, body?: unknown): Promise<T> {
  const key = sessionKey()
  if (key === null) {
    sessionLost('Please sign in.')
    throw new ApiError(401, 'missing_api_key', 'Not signed in')
  }
  try {
    return (await requestWithKey<T>(key, method, path, body)).body
  } catch (error) {
    endSessionIfRefused(error)
    throw error
  }
}

/** Ends the session when an answer to a call made with the signed-in key says the key is refused. */
export function endSessionIfRefused(error: unknown): void {
  if (isKeyRefused(error)) sessionLost('Your key is no longer accepted (revoked, disabled or expired). Sign in again with an admin key.')
}

/** Builds a query string from the defined, non-empty values. */
export function query(params: Record<string, string | number | null | undefined>): string {
  const search = new URLSearchParams()
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== '') search.set(name, String(value))
  }
  const text = search.toString()
  return text === '' ? '' : `?${text}`
}

export function errorMessage(error: unknown): string {
  if (error instanceof ApiError) return error.status === 0 ? error.message : `${error.message} (${error.code}, HTTP ${error.status})`
  return error instanceof Error ? error.message : String(error)
}
