/** Small text formatters shared by the pages. */
export function formatTime(value: string | number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  const date = new Date(value)
  return Number.isNaN(date.getTime())
    ? String(value)
    : date
        .toISOString()
        .replace('T', ' ')
        .replace(/\.\d+Z$/, 'Z')
}

export function formatMs(value: number | null | undefined): string {
  if (value === null || value === undefined) return '—'
  return value < 10 ? `${value.toFixed(2)} ms` : `${Math.round(value)} ms`
}

/** Comma- or whitespace-separated items, trimmed, empties dropped. */
export function splitList(text: string): string[] {
  return text
    .split(/[,\s]+/)
    .map((item) => item.trim())
    .filter((item) => item !== '')
}
