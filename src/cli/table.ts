/** Plain-text tables for the CLI: columns padded to their widest cell. */

export function renderTable(headers: string[], rows: string[][]): string {
  const widths = headers.map((header, i) => Math.max(header.length, ...rows.map((row) => (row[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => cell.padEnd(widths[i]!))
      .join('  ')
      .trimEnd()
  return [line(headers), ...rows.map(line)].join('\n')
}

/** `2026-11-27 20:47` in UTC, or `-` for no time. */
export function formatTime(ms: number | null): string {
  if (ms === null) return '-'
  return new Date(ms).toISOString().slice(0, 16).replace('T', ' ')
}
