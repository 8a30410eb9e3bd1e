/**
 * The models a key may be restricted to, as the CLI knows them without a server: the built-in
 * model (named in `--model-dir`'s manifest) and every `--model NAME=...` given to the command
 * or in `INFERGATE_MODEL`, the same settings `serve` takes. Nothing is loaded.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { Command } from 'commander'
import type { Config } from '../config.js'
import { MANIFEST_FILE } from '../models/builtin/manifest.js'
import { unknownModels } from '../models/spec.js'
import { addSettingOptions } from './options.js'

/** Adds `--model` and `--model-dir`, as `serve` has them, so that `--models` can name the server's models. */
export function addModelSettings(command: Command): Command {
  return addSettingOptions(command, ['models', 'modelDir'])
}

/** The built-in model's name: the one in its manifest, as the server reads it. */
function builtinName(modelDir: string): string {
  try {
    const manifest = JSON.parse(fs.readFileSync(path.join(modelDir, MANIFEST_FILE), 'utf8')) as { name?: unknown }
    if (typeof manifest.name === 'string') return manifest.name
  } catch {
    // A folder the server could not load either: the default name is the best guess.
  }
  return 'sentiment'
}

/** Throws a usage message when `names` holds a model the configuration does not serve. */
export function checkModels(names: readonly string[] | null, config: Config): void {
  if (names === null) return
  const known = [builtinName(config.modelDir), ...config.models.map((spec) => spec.name)]
  const unknown = unknownModels(names, known)[0]
  if (unknown) {
    throw new Error(
      `--models: ${unknown.message}; declare the server's other models with --model NAME=PATH or INFERGATE_MODEL, as for serve`,
    )
  }
}
