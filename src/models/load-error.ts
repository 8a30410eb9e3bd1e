/** A model folder that cannot be served: names the file and what is wrong with it. */
import path from 'node:path'

export class ModelLoadError extends Error {
  override name = 'ModelLoadError'

  constructor(
    readonly file: string,
    problem: string,
  ) {
    super(`${file}: ${problem}`)
  }
}

/** Reads a JSON file of a model folder, with errors that name it. */
export async function readJsonFile(dir: string, name: string, required = true): Promise<Record<string, unknown> | undefined> {
  const { readFile } = await import('node:fs/promises')
  const file = path.join(dir, name)
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !required) return undefined
    throw new ModelLoadError(file, (error as NodeJS.ErrnoException).code === 'ENOENT' ? 'file not found' : (error as Error).message)
  }
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new ModelLoadError(file, `not valid JSON (${(error as Error).message})`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new ModelLoadError(file, 'expected a JSON object')
  return value as Record<string, unknown>
}
