#!/usr/bin/env node
/**
 * The `infergate` command. Each sub-command lives in its own file and registers itself here;
 * they all call the same services as the HTTP API.
 */
import { Command } from 'commander'
import { registerServe } from './serve.js'
import { registerKeys } from './keys.js'
import { registerOwners } from './owners.js'
import { registerAudit } from './audit.js'
import { registerTrain } from './train.js'
import { registerEval } from './eval.js'
import { registerWebhooks } from './webhooks.js'
import { runCli } from './run.js'

const program = new Command('infergate').description(
  'Put AI models behind API keys: authenticated, rate-limited, batched and audited inference.',
)

registerServe(program)
registerKeys(program)
registerOwners(program)
registerAudit(program)
registerTrain(program)
registerEval(program)
registerWebhooks(program)

await runCli(program, process.argv)
