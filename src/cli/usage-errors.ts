/**
 * Usage errors that say what to do in a line or two:
 * - commander checks required options before unknown ones, so `keys create --nam x` answered
 *   "required option '--name <name>' not specified" and never "(Did you mean --name?)": required
 *   options are checked after the unknown ones, just before the action;
 * - after an error, one line pointing to `--help` instead of the whole help (30 to 80 lines,
 *   which pushed the error and its suggestion off the screen);
 * - `npm start --port 18000` without `--`: npm keeps `--port` for itself (as `npm_config_port`)
 *   and passes `18000` on as an argument; one line says how to write it.
 */
import type { Command, Option } from 'commander'

function commandPath(command: Command): string {
  const names: string[] = []
  for (let at: Command | null = command; at; at = at.parent) names.unshift(at.name())
  return names.join(' ')
}

/** Applies the above to `command` and every sub-command. */
export function quietUsageErrors(command: Command): void {
  command.showHelpAfterError(`(${commandPath(command)} --help ${command.commands.length > 0 ? 'lists the commands' : 'lists the options'})`)
  const required = command.options.filter((option) => option.mandatory)
  if (required.length > 0) {
    for (const option of required) option.mandatory = false
    command.hook('preAction', (_command, action) => {
      const missing = required.find((option) => action.getOptionValue(option.attributeName()) === undefined)
      if (missing)
        action.error(`error: required option '${missing.flags}' not specified`, { code: 'commander.missingMandatoryOptionValue' })
    })
  }
  for (const sub of command.commands) quietUsageErrors(sub)
}

const takesValue = (option: Option) => option.required || option.optional

/**
 * When an npm script (`npm start`) runs the CLI and npm kept options for itself, the line that
 * says how to pass them on; undefined otherwise.
 */
export function npmKeptOptions(program: Command, argv: readonly string[], env: NodeJS.ProcessEnv): string | undefined {
  const script = env.npm_lifecycle_event
  if (!script) return undefined
  let command = program
  let at = 2
  for (let sub; (sub = command.commands.find((candidate) => candidate.name() === argv[at])); at++) command = sub
  const kept = command.options.filter(
    (option) => option.long && takesValue(option) && `npm_config_${option.long.slice(2).replace(/-/g, '_')}` in env,
  )
  const operands: string[] = []
  for (let i = at; i < argv.length; i++) {
    const option = command.options.find((candidate) => candidate.long === argv[i] || candidate.short === argv[i])
    if (option && takesValue(option)) i++
    else if (!argv[i]!.startsWith('-')) operands.push(argv[i]!)
  }
  const stray = operands.slice(command.registeredArguments.length)
  if (kept.length === 0 || stray.length === 0) return undefined
  const run = script === 'start' ? 'npm start' : `npm run ${script}`
  const flags = kept.map((option) => option.long!)
  const example = flags.length === 1 && stray.length === 1 ? `${flags[0]} ${stray[0]}` : flags.map((flag) => `${flag} VALUE`).join(' ')
  const passed = stray.length === 1 ? `${stray[0]} on as an argument` : `${stray.join(' ')} on as arguments`
  return `npm kept ${flags.join(', ')} for itself and passed ${passed}: put infergate's options after --, as in ${run} -- ${example}`
}
