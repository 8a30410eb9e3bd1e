/**
 * Something that happens at most once to a request (it finished; its client left): listeners
 * added before it happens run when it does, listeners added after run at once. Every listener
 * runs even if one throws; the first failure is then thrown, for the caller to log.
 */
export class Once {
  private done = false
  /** Made on first use: most requests never get a listener for most events. */
  private listeners: (() => void)[] | null = null

  get happened(): boolean {
    return this.done
  }

  /** Calls `listener` when this happens, or at once if it has; returns the function that stops listening. */
  listen(listener: () => void): () => void {
    if (this.done) {
      listener()
      return () => {}
    }
    const listeners = (this.listeners ??= [])
    listeners.push(listener)
    return () => {
      if (this.done) return
      const at = listeners.indexOf(listener)
      if (at !== -1) listeners.splice(at, 1)
    }
  }

  /** Marks it happened and calls the listeners; a second call does nothing. */
  happen(): void {
    if (this.done) return
    this.done = true
    const listeners = this.listeners
    this.listeners = null
    if (listeners) runEach(listeners)
  }
}

function runEach(listeners: readonly (() => void)[]): void {
  let failure: { error: unknown } | null = null
  for (const listener of listeners) {
    try {
      listener()
    } catch (error) {
      failure ??= { error }
    }
  }
  if (failure) throw failure.error
}
