/** Load split into named phases (before, during and after a fault), with answers tallied per phase. */
import type { LoadResult } from './load.js'
import { runLoad } from './load.js'

export class PhasedLoad {
  phase = 'warm-up'
  readonly tally: Record<string, Record<string, number>> = {}
  /** The last answers, newest last, to see whether the service has recovered. */
  readonly recent: string[] = []
  private stopped = false
  private running: Promise<LoadResult> | undefined

  /** Starts `concurrency` clients; `send` resolves with the status and, for errors, the code. */
  start(concurrency: number, send: (i: number) => Promise<string>): void {
    this.running = runLoad({
      concurrency,
      stop: () => this.stopped,
      send: async (i) => {
        const phase = this.phase
        let answer: string
        try {
          answer = await send(i)
        } catch {
          answer = 'no answer'
        }
        const counts = (this.tally[phase] ??= {})
        counts[answer] = (counts[answer] ?? 0) + 1
        this.recent.push(answer)
        if (this.recent.length > 20) this.recent.shift()
        return answer === 'no answer' ? 0 : Number(answer.split(' ')[0])
      },
    })
  }

  /** True when the last `n` answers all start with the prefix. */
  lastAre(prefix: string, n = 10): boolean {
    return this.recent.length >= n && this.recent.slice(-n).every((answer) => answer.startsWith(prefix))
  }

  async stop(): Promise<LoadResult> {
    this.stopped = true
    return this.running!
  }

  /** Every answer of every phase, e.g. `{"200": 812, "503 service_unavailable": 40}`. */
  all(): Record<string, number> {
    const total: Record<string, number> = {}
    for (const counts of Object.values(this.tally))
      for (const [answer, n] of Object.entries(counts)) total[answer] = (total[answer] ?? 0) + n
    return total
  }
}

/** Sends a request and resolves with `status` or `status code` for error answers. */
export async function answerOf(url: string, init: RequestInit = {}): Promise<string> {
  const response = await fetch(url, init)
  const text = await response.text()
  if (response.status < 400) return String(response.status)
  try {
    return `${response.status} ${(JSON.parse(text) as { code?: string }).code ?? '?'}`
  } catch {
    return `${response.status} (not json)`
  }
}
