/**
 * Runs the command line and turns failures into exit codes: 2 for invalid settings or usage,
 * 1 for anything else, with one clear line on stderr and no stack trace for expected errors.
 */
import type { Command } from 'commander'
import { CommanderError } from 'commander'
import { ConfigError } from '../config.js'
import { StartupError } from '../lib/startup-error.js'
import { npmKeptOptions, quietUsageErrors } from './usage-errors.js'

/** An expected failure of a command: printed as one line, exit code as given. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode = 1,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

/** Makes commander throw instead of exiting, on every (sub)command, so exit codes are ours. */
function overrideExits(command: Command): void {
  command.exitOverride()
  for (const sub of command.commands) overrideExits(sub)
}

export async function runCli(program: Command, argv: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  overrideExits(program)
  quietUsageErrors(program)
  try {
    const kept = npmKeptOptions(program, argv, env)
    if (kept !== undefined) throw new CliError(kept, 2)
    await program.parseAsync(argv)
  } catch (error) {
    process.exitCode = exitCodeOf(error)
  }
}

function exitCodeOf(error: unknown): number {
  if (error instanceof CommanderError) {
    // Commander printed its own message (or help); 0 for --help and --version.
    return error.exitCode === 0 ? 0 : 2
  }
  if (error instanceof ConfigError) {
    console.error(`infergate: ${error.message}`)
    return 2
  }
  if (error instanceof StartupError) {
    console.error(`infergate: ${error.message}`)
    return 1
  }
  if (error instanceof CliError) {
    console.error(`infergate: ${error.message}`)
    return error.exitCode
  }
  console.error(`infergate: ${(error as Error)?.stack ?? String(error)}`)
  return 1
}
