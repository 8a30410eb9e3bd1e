/**
 * Server-Sent Events from the upstream to the client, event by event as they arrive: nothing is
 * buffered beyond the event being read. The relay is pulled by the client's socket (it is a
 * `Readable.from` source), so a slow client slows the reading of the upstream: backpressure.
 *
 * On the way it notes the usage the upstream reports (the final chunk with empty `choices` of
 * `stream_options.include_usage`), and drops that chunk when the client did not ask for it
 * (infergate asks for it on the client's behalf). An upstream that fails or ends without
 * `data: [DONE]` ends the stream with an error event in OpenAI's shape,
 * `data: {"error": {"message", "type", "code"}}`, which the OpenAI SDKs raise as an API error.
 */
import { createParser } from 'eventsource-parser'
import type { EventSourceMessage } from 'eventsource-parser'
import { ErrorCode } from '../errors.js'
import type { Usage } from './usage.js'
import { usageOf } from './usage.js'

/** What a relayed stream ended with. */
export interface RelayState {
  usage: Usage | null
  /** The stream ended without `[DONE]`: the upstream failed, or it was cut short. */
  failed: boolean
  /** Events relayed to the client. */
  events: number
  /** Told as soon as the upstream reports the usage, before the stream ends (a client may leave in between). */
  onUsage?: (usage: Usage) => void
}

function sseEvent(message: EventSourceMessage): string {
  return `${message.event ? `event: ${message.event}\n` : ''}data: ${message.data.replace(/\n/g, '\ndata: ')}\n\n`
}

const UPSTREAM_FAILED = `data: ${JSON.stringify({
  error: {
    message: 'The model server failed while streaming the answer',
    type: 'server_error',
    code: ErrorCode.UpstreamError,
    param: null,
  },
})}\n\n`

/** Relays `body` (the upstream's SSE bytes) as SSE text; `state` tells how it ended once the generator finishes. */
export async function* relayEvents(body: AsyncIterable<Uint8Array>, keepUsageChunk: boolean, state: RelayState): AsyncGenerator<string> {
  const decoder = new TextDecoder()
  let pending: string[] = []
  let done = false
  const parser = createParser({
    onEvent(message) {
      if (done) return
      if (message.data === '[DONE]') done = true
      else if (message.data.includes('"usage"')) {
        const chunk = parseChunk(message.data)
        const usage = usageOf(chunk)
        if (usage) {
          state.usage = usage
          state.onUsage?.(usage)
        }
        if (usage && !keepUsageChunk && Array.isArray(chunk?.choices) && chunk.choices.length === 0) return
      }
      pending.push(sseEvent(message))
    },
  })
  try {
    for await (const bytes of body) {
      parser.feed(decoder.decode(bytes, { stream: true }))
      if (pending.length === 0) continue
      const out = pending.join('')
      state.events += pending.length
      pending = []
      yield out
    }
  } catch {
    // The upstream's connection broke mid-stream (or timed out between chunks): said below.
  }
  if (!done) {
    state.failed = true
    yield UPSTREAM_FAILED
  }
}

function parseChunk(data: string): { choices?: unknown; usage?: unknown } | null {
  try {
    const parsed: unknown = JSON.parse(data)
    return parsed !== null && typeof parsed === 'object' ? parsed : null
  } catch {
    return null
  }
}
