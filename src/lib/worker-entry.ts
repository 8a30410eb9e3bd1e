/**
 * How to start a worker thread whose module is a sibling of the caller: the `.js` file once
 * built. When running from the TypeScript sources (tests, `npm run dev`), Node 20 does not pass
 * tsx's loader on to workers, so a small bootstrap loads the `.ts` file through tsx's API.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export interface WorkerEntry {
  entry: string | URL
  eval: boolean
}

/** `callerUrl` is the caller's `import.meta.url`; `name` the worker module without extension. */
export function workerEntry(callerUrl: string, name: string): WorkerEntry {
  const caller = fileURLToPath(callerUrl)
  if (path.extname(caller) !== '.ts') return { entry: new URL(`./${name}.js`, callerUrl), eval: false }
  const file = JSON.stringify(path.join(path.dirname(caller), `${name}.ts`))
  return { entry: `import('tsx/esm/api').then(({ tsImport }) => tsImport(${file}, ${JSON.stringify(callerUrl)}))`, eval: true }
}
