/**
 * `infergate webhooks verify`: checks a received webhook body against its three headers, as a
 * receiver would (`webhooks/signature.ts`), for scripts and for trying a receiver by hand.
 */
import { text } from 'node:stream/consumers'
import type { Command } from 'commander'
import { secretBytes, verifyWebhook } from '../webhooks/signature.js'
import { CliError } from './run.js'

interface VerifyOptions {
  id: string
  timestamp: string
  signature: string
  secretEnv: string
}

export function registerWebhooks(program: Command): void {
  const webhooks = program.command('webhooks').description('signed webhook events (docs/webhooks.md)')
  webhooks
    .command('verify')
    .description('check a webhook body read from stdin against its headers: "valid" (exit 0) or why not (exit 1)')
    .requiredOption('--id <webhook-id>', 'the webhook-id header')
    .requiredOption('--timestamp <seconds>', 'the webhook-timestamp header')
    .requiredOption('--signature <v1,...>', 'the webhook-signature header')
    .option('--secret-env <var>', 'the environment variable holding the secret', 'INFERGATE_WEBHOOK_SECRET')
    .action(async (options: VerifyOptions) => {
      const raw = process.env[options.secretEnv]
      if (!raw) throw new CliError(`set the environment variable ${options.secretEnv} to the webhook secret`, 2)
      let secret: Buffer
      try {
        secret = secretBytes(raw)
      } catch (error) {
        throw new CliError(`the secret in ${options.secretEnv} ${(error as Error).message}`, 2)
      }
      const body = await text(process.stdin)
      const headers = { 'webhook-id': options.id, 'webhook-timestamp': options.timestamp, 'webhook-signature': options.signature }
      const failure = verifyWebhook(secret, headers, body)
      if (failure) throw new CliError(`invalid: ${failure.replace(/_/g, ' ')}`, 1)
      console.log('valid')
    })
}
