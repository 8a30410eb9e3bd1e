/**
 * The signed-in admin key: in memory, mirrored to sessionStorage (this tab only, gone when it
 * closes) so a reload keeps the session. Never localStorage, never a URL.
 */
const STORAGE_KEY = 'infergate.dashboard.key'

let current: string | null = null

function storage(): Storage | null {
  try {
    return window.sessionStorage
  } catch {
    return null
  }
}

export function sessionKey(): string | null {
  current ??= storage()?.getItem(STORAGE_KEY) ?? null
  return current
}

export function startSession(key: string): void {
  current = key
  storage()?.setItem(STORAGE_KEY, key)
}

export function endSession(): void {
  current = null
  storage()?.removeItem(STORAGE_KEY)
}
