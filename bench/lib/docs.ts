/**
 * `docs/benchmarks.md` as sections, one per scenario, each opened by its heading and a
 * `<!-- bench:ID -->` marker. A run of every scenario writes the whole file; a run of some
 * (`--only … --write-docs`) replaces just their sections, each then saying when it was measured,
 * so that one scenario can be measured again without an hour of the others.
 */
import type { ScenarioReport } from './report.js'

const marker = (id: string) => `<!-- bench:${id} -->`
const MARKER = /<!-- bench:([\w-]+) -->/

/** A scenario's section: heading, marker, then (for a partial run) when it was measured. */
export function section(report: ScenarioReport, measured?: string): string {
  return [`### ${report.title}`, marker(report.id), ...(measured ? [measured] : []), report.markdown].join('\n\n')
}

/**
 * The file with the sections of `reports` replaced (or added at the end when new); everything
 * else, including the sections of scenarios not run, stays as it was.
 */
export function replaceSections(existing: string, reports: readonly ScenarioReport[], measured: string): string {
  const parts = existing.split(/\n(?=### )/)
  const byId = new Map(reports.map((r) => [r.id, r]))
  const kept = parts.map((part) => {
    const id = MARKER.exec(part)?.[1]
    const report = id === undefined ? undefined : byId.get(id)
    if (!report) return part
    byId.delete(report.id)
    return `${section(report, measured)}\n`
  })
  const added = [...byId.values()].map((r) => `${section(r, measured)}\n`)
  return [...kept, ...added].join('\n')
}
