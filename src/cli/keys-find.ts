/**
 * `infergate keys find <string>` (or `-` to read it from stdin): which key a leaked string is. Checks the shape, then the
 * checksum (a look-alike or a typo fails here without touching the store), then looks the
 * digest up. Prints the key's id, name, owner, status and last use — never the string.
 * Exit code 0 when the key is found, 1 otherwise.
 */
import type { Command } from 'commander'
import { KEY_BODY_LENGTH, KEY_PATTERN, KEY_PREFIX, isWellFormedKey, visiblePrefix } from '../keys/format.js'
import type { ApiKeyRecord } from '../keys/types.js'
import { keyView } from '../keys/view.js'
import { keyLines, storeCommand, withKeys } from './keys-common.js'
import { configFrom } from './options.js'

const KEY_SHAPE = new RegExp(KEY_PATTERN)

type FindVerdict = 'found' | 'bad_format' | 'bad_checksum' | 'unknown'

const MESSAGES: Record<Exclude<FindVerdict, 'found'>, string> = {
  bad_format: `not an infergate key (wrong format: a key is ${KEY_PREFIX} followed by ${KEY_BODY_LENGTH} letters and digits)`,
  bad_checksum: 'not an infergate key (bad checksum)',
  unknown: 'a well-formed infergate key, but not one of this store (another deployment, or deleted)',
}

/** What was piped in, up to 1 MB (a key, or a log line holding one). */
async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    chunks.push(chunk)
    size += chunk.length
    if (size > 1_048_576) break
  }
  return Buffer.concat(chunks).toString('utf8')
}

/** The key-shaped part of the text (the whole text, or a key inside a pasted log line). */
function candidateOf(text: string): string | undefined {
  return KEY_SHAPE.exec(text.trim())?.[0]
}

export function registerFind(keys: Command): void {
  storeCommand(
    keys,
    'find',
    'say which key a leaked string is (by format, checksum and hash), with its owner and last use, so it can be revoked at once',
  )
    .argument('<string>', 'the leaked key, or a line of text containing it; - reads it from stdin (out of the shell history)')
    .action(async (argument: string, options: { json?: boolean }, command: Command) => {
      const text = argument === '-' ? await readStdin() : argument
      const candidate = candidateOf(text)
      let verdict: FindVerdict
      let record: ApiKeyRecord | undefined
      if (candidate === undefined) verdict = 'bad_format'
      else if (!isWellFormedKey(candidate)) verdict = 'bad_checksum'
      else {
        record = await withKeys(configFrom(command), (service) => service.findByKey(candidate))
        verdict = record ? 'found' : 'unknown'
      }
      const prefix = candidate === undefined ? null : visiblePrefix(candidate)
      if (options.json === true) {
        console.log(JSON.stringify({ verdict, prefix, key: record ? keyView(record, Date.now()) : null }))
      } else if (record) {
        console.log(`${prefix}… is key ${record.id}. Revoke it with: infergate keys revoke ${record.id}\n`)
        console.log(keyLines(record, Date.now()))
      } else {
        console.log(verdict === 'bad_format' ? MESSAGES.bad_format : `${prefix}…: ${MESSAGES[verdict as Exclude<FindVerdict, 'found'>]}`)
      }
      if (verdict !== 'found') process.exitCode = 1
    })
}
