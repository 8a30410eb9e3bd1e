/** Bench reports: a markdown section per scenario plus the raw figures as JSON. */
import os from 'node:os'

export interface ScenarioReport {
  id: string
  title: string
  /** Markdown: a table and notes. */
  markdown: string
  data: unknown
}

export function markdownTable(headers: string[], rows: (string | number)[][]): string {
  const line = (cells: (string | number)[]) => `| ${cells.join(' | ')} |`
  return [line(headers), line(headers.map(() => '---')), ...rows.map(line)].join('\n')
}

/** The machine the figures come from. */
export function machineDescription(): string {
  const cpu = os.cpus()[0]?.model ?? 'unknown CPU'
  return `${os.cpus().length} × ${cpu}, ${Math.round(os.totalmem() / 2 ** 30)} GiB RAM, Node.js ${process.version}, ${os.type()} ${os.release()}`
}

export const fmt = {
  int: (n: number) => Math.round(n).toLocaleString('en-US'),
  ms: (n: number) => n.toFixed(n < 10 ? 2 : 1),
  ratio: (n: number) => n.toFixed(2),
}

/** The cells every load table shows for a measured server: req/s, p50, p99, CPU per request, non-2xx, errors. */
export function loadCells(r: {
  requestsPerSec: number
  p50Ms: number
  p99Ms: number
  cpuUsPerRequest?: number | undefined
  non2xx: number
  errors: number
}) {
  return [
    fmt.int(r.requestsPerSec),
    fmt.ms(r.p50Ms),
    fmt.ms(r.p99Ms),
    r.cpuUsPerRequest === undefined ? '' : r.cpuUsPerRequest.toFixed(0),
    r.non2xx,
    r.errors,
  ]
}
