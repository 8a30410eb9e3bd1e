/**
 * Labelled text sets in the SST-2/GLUE layout: a header line, then `label<TAB>sentence` lines.
 */
import { readFile } from 'node:fs/promises'

/** One labelled text; `label` is the index into the model's labels (0 = negative, 1 = positive). */
export interface LabelledExample {
  label: number
  text: string
}

/** A labelled text as training sees it: its tokens as ids are ids into a shared token table (`rowsOf[id]` = table rows). */
export interface EncodedExample {
  label: number
  tokens: Int32Array
  /** With the contrast rule: where clause B starts in `tokens` (-1 or absent: the rule does not apply). */
  clause?: number
}

/** Options of {@link readLabelledTsv}. */
export interface ReadTsvOptions {
  /** Number of classes; labels must be integers from 0 to `classes - 1` (default 2). */
  classes?: number
}

/** A malformed data file; the message names the file and, when known, the line. */
export class DatasetError extends Error {
  override name = 'DatasetError'
}

/**
 * Reads a `label<TAB>sentence` TSV file whose first line is a header. Empty lines (a trailing
 * newline, CRLF endings) are ignored; any other malformed line throws a {@link DatasetError}
 * naming the file and the 1-based line number.
 */
export async function readLabelledTsv(file: string, options: ReadTsvOptions = {}): Promise<LabelledExample[]> {
  let content: string
  try {
    content = await readFile(file, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    const reason = code === 'ENOENT' ? 'file not found' : code === 'EISDIR' ? 'is a directory' : (error as Error).message
    throw new DatasetError(`${file}: ${reason}`)
  }
  return parseLabelledTsv(content, file, options)
}

/** Parses the content of a labelled TSV file; `file` is only used in error messages. */
export function parseLabelledTsv(content: string, file: string, options: ReadTsvOptions = {}): LabelledExample[] {
  const classes = options.classes ?? 2
  const lines = content.split('\n')
  const examples: LabelledExample[] = []
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i]!.endsWith('\r') ? lines[i]!.slice(0, -1) : lines[i]!
    if (line.trim() === '') continue
    examples.push(parseLine(line, classes, `${file}:${i + 1}`))
  }
  if (examples.length === 0) throw new DatasetError(`${file}: no examples after the header line`)
  return examples
}

function parseLine(line: string, classes: number, where: string): LabelledExample {
  const tab = line.indexOf('\t')
  if (tab < 0) throw new DatasetError(`${where}: expected "label<TAB>sentence", found no tab`)
  const rawLabel = line.slice(0, tab).trim()
  const label = Number(rawLabel)
  if (!/^\d+$/.test(rawLabel) || label >= classes) {
    throw new DatasetError(`${where}: label must be an integer from 0 to ${classes - 1}, got "${rawLabel}"`)
  }
  const text = line.slice(tab + 1)
  if (text.trim() === '') throw new DatasetError(`${where}: empty sentence`)
  return { label, text }
}
