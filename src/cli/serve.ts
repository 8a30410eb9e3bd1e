/** `infergate serve`: runs the HTTP server until SIGTERM/SIGINT. */
import type { Command } from 'commander'
import { settings } from '../config.js'
import type { SettingName } from '../config.js'
import { addSettingOptions, configFrom } from './options.js'

export function registerServe(program: Command): void {
  const serve = program.command('serve').description('serve the HTTP API (flags > INFERGATE_* environment > defaults)')
  addSettingOptions(serve, Object.keys(settings) as SettingName[])
  serve.action(async (_options, command: Command) => {
    const config = configFrom(command)
    // Loaded on demand: the other commands start faster without the HTTP stack and ONNX Runtime.
    const { startServer } = await import('../server.js')
    await startServer(config)
  })
}
