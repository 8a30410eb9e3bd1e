/**
 * Command-line options generated from the settings table in `config.ts`, so that every
 * command documents the same flags, environment variables and defaults.
 */
import type { Command } from 'commander'
import { Option } from 'commander'
import type { Config, RawSettings, SettingName } from '../config.js'
import type { DatabaseOptions } from '../db/types.js'
import { envName, loadConfig, settings } from '../config.js'
import { findDataDir } from '../db/data-dir.js'
import { redactUrl } from '../lib/redact-url.js'
import path from 'node:path'

const ATTRIBUTE = Symbol('settingAttributes')
type WithSettings = Command & { [ATTRIBUTE]?: Map<string, SettingName> }

function helpText(name: SettingName): string {
  const setting = settings[name]
  const fallback =
    'shown' in setting ? setting.shown : typeof setting.default === 'string' ? JSON.stringify(setting.default) : String(setting.default)
  return `${setting.description} (env ${envName(name)}, default ${fallback})`
}

/**
 * Adds one option per named setting; switches that default to true become `--no-<flag>`, others
 * `--<flag>`. May be called several times on one command.
 */
export function addSettingOptions(command: Command, names: readonly SettingName[]): Command {
  const attributes = (command as WithSettings)[ATTRIBUTE] ?? new Map<string, SettingName>()
  for (const name of names) {
    const setting = settings[name]
    // A boolean setting without a value placeholder is a switch; --trust-proxy takes a value.
    const isSwitch = typeof setting.default === 'boolean' && !('placeholder' in setting)
    const option = isSwitch
      ? new Option(`--${setting.default ? 'no-' : ''}${setting.flag}`, helpText(name))
      : new Option(`--${setting.flag} <${'placeholder' in setting ? setting.placeholder : 'value'}>`, helpText(name))
    if ('repeatable' in setting && setting.repeatable)
      option.argParser((value: string, previous: string | undefined) => (previous === undefined ? value : `${previous}\n${value}`))
    command.addOption(option)
    attributes.set(option.attributeName(), name)
  }
  ;(command as WithSettings)[ATTRIBUTE] = attributes
  return command
}

/** The configuration for a command: its flags given on the command line, then env, then defaults. */
export function configFrom(command: Command): Config {
  const attributes = (command as WithSettings)[ATTRIBUTE] ?? new Map<string, SettingName>()
  const raw: RawSettings = {}
  for (const [attribute, name] of attributes) {
    // Commander fills in defaults for --no-* switches; only values typed by the user count.
    if (command.getOptionValueSource(attribute) === 'cli') raw[name] = command.getOptionValue(attribute) as string | boolean
  }
  const config = loadConfig(raw, process.env, [...attributes.values()])
  // Neither the flag nor the environment names the data directory: found as docs/configuration.md says.
  const dataDirGiven = raw.dataDir !== undefined || (process.env[envName('dataDir')] ?? '') !== ''
  return dataDirGiven ? config : { ...config, dataDir: findDataDir() }
}

/** The settings every command that opens the store takes. */
export const STORE_SETTINGS: readonly SettingName[] = ['dataDir', 'databaseUrl']

/** The store a command used, for its human output: `SQLite /abs/dir` or `PostgreSQL postgres://user:***@host/db`. */
export function storeName(config: Config): string {
  return config.databaseUrl ? `PostgreSQL ${redactUrl(config.databaseUrl)}` : `SQLite ${path.resolve(config.dataDir)}`
}

/** Where the store is, for `openDatabase`: the SQLite folder or the PostgreSQL URL. */
export function storeOptions(config: Config): DatabaseOptions {
  return { dataDir: config.dataDir, databaseUrl: config.databaseUrl }
}
