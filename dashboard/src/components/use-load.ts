/** Runs an async loader when its dependencies change; exposes data, error, loading and reload. */
import { useCallback, useEffect, useState } from 'preact/hooks'

export interface Loaded<T> {
  data: T | null
  error: unknown
  loading: boolean
  reload: () => void
}

export function useLoad<T>(load: () => Promise<T>, deps: unknown[]): Loaded<T> {
  const [data, setData] = useState<T | null>(null)
  const [error, setError] = useState<unknown>(null)
  const [loading, setLoading] = useState(true)
  const [tick, setTick] = useState(0)
  useEffect(() => {
    let live = true
    setLoading(true)
    load().then(
      (value) => {
        if (!live) return
        setData(value)
        setError(null)
        setLoading(false)
      },
      (failure: unknown) => {
        if (!live) return
        setError(failure)
        setLoading(false)
      },
    )
    return () => {
      live = false
    }
  }, [...deps, tick])
  const reload = useCallback(() => setTick((n) => n + 1), [])
  return { data, error, loading, reload }
}
