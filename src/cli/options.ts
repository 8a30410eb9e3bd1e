/**
 * Command-line options generated from the settings table in `config.ts`, so that every
 * command documents the same flags, environment variables and defaults.
 */
import type { Command } from 'commander'
import { Option } from 'commander'
import type { Config, RawSettings, SettingName } from '../config.js'
import type { DatabaseOptions } from '../db/database.js'
import { envName, loadConfig, settings } from '../config.js'

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
  return loadConfig(raw, process.env, [...attributes.values()])
}

/** The settings every command that opens the store takes. */
export const STORE_SETTINGS: readonly SettingName[] = ['dataDir', 'databaseUrl']

/** Where the store is, for `openDatabase`: the SQLite folder or the PostgreSQL URL. */
export function storeOptions(config: Config): DatabaseOptions {
  return { dataDir: config.dataDir, databaseUrl: config.databaseUrl }
}
