/**
 * The settings table as markdown, for docs/configuration.md (`npm run docs:config`); a test
 * checks that the committed page matches, so the docs cannot drift from the code.
 */
import type { SettingName } from '../config.js'
import { envName, settings } from '../config.js'

function shownDefault(name: SettingName): string {
  const setting = settings[name]
  if ('shown' in setting) return setting.shown
  if (typeof setting.default === 'string') return setting.default === '' ? '(empty)' : setting.default
  return String(setting.default)
}

function flagOf(name: SettingName): string {
  const setting = settings[name]
  const isSwitch = typeof setting.default === 'boolean' && !('placeholder' in setting)
  if (isSwitch) return `--${setting.default ? 'no-' : ''}${setting.flag}`
  return `--${setting.flag} <${'placeholder' in setting ? setting.placeholder : 'value'}>`
}

export function configurationTable(): string {
  const rows = (Object.keys(settings) as SettingName[]).map((name) => {
    const cell = (text: string) => text.replace(/\|/g, '\\|')
    return `| \`${flagOf(name)}\` | \`${envName(name)}\` | \`${cell(shownDefault(name))}\` | ${cell(settings[name].description)} |`
  })
  return ['| flag | environment | default | meaning |', '|---|---|---|---|', ...rows].join('\n')
}
