/**
 * Playground: pick a model, type a text, call POST /v1/models/{name}/predict with the signed-in
 * key or another one, and see the prediction, the latency and the rate-limit headers.
 */
import { useEffect, useState } from 'preact/hooks'
import { ApiError, endSessionIfRefused, errorMessage, requestWithKey } from '../api'
import { formatMs } from '../format'
import { sessionKey } from '../session'
import type { ModelInfo } from '../types'

const SHOWN_HEADERS = ['ratelimit', 'ratelimit-policy', 'retry-after', 'x-request-id']

interface Prediction {
  label?: string
  confidence?: number
  scores?: Record<string, number>
  model?: string
}

interface Outcome {
  status: number
  latencyMs: number
  headers: [string, string][]
  prediction: Prediction | null
  error: string | null
}

function pickHeaders(headers: Headers | null): [string, string][] {
  if (headers === null) return []
  return SHOWN_HEADERS.flatMap((name) => {
    const value = headers.get(name)
    return value === null ? [] : [[name, value] as [string, string]]
  })
}

export function Playground() {
  const [models, setModels] = useState<ModelInfo[]>([])
  const [model, setModel] = useState('')
  const [useOther, setUseOther] = useState(false)
  const [otherKey, setOtherKey] = useState('')
  const [text, setText] = useState('')
  const [busy, setBusy] = useState(false)
  const [result, setResult] = useState<Outcome | null>(null)
  const key = useOther ? otherKey.trim() : (sessionKey() ?? '')

  useEffect(() => {
    if (key === '') return
    let live = true
    requestWithKey<{ models: ModelInfo[] }>(key, 'GET', '/v1/models').then(
      ({ body }) => {
        if (!live) return
        setModels(body.models)
        setModel((current) => current || (body.models.find((m) => m.default) ?? body.models[0])?.name || '')
      },
      () => {
        // A key without the predict scope cannot list models; the name can still be typed.
      },
    )
    return () => {
      live = false
    }
  }, [key])

  const submit = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    const started = performance.now()
    try {
      const response = await requestWithKey<Prediction>(key, 'POST', `/v1/models/${encodeURIComponent(model || 'sentiment')}/predict`, {
        text,
      })
      setResult({
        status: response.status,
        latencyMs: performance.now() - started,
        headers: pickHeaders(response.headers),
        prediction: response.body,
        error: null,
      })
    } catch (failure) {
      const headers = failure instanceof ApiError ? failure.headers : null
      const status = failure instanceof ApiError ? failure.status : 0
      setResult({
        status,
        latencyMs: performance.now() - started,
        headers: pickHeaders(headers),
        prediction: null,
        error: errorMessage(failure),
      })
      if (!useOther) endSessionIfRefused(failure)
    } finally {
      setBusy(false)
    }
  }

  return (
    <>
      <div class="page-head">
        <h1>Playground</h1>
      </div>
      <form class="card grid-form" onSubmit={(event) => void submit(event)}>
        <label for="pg-model">Model</label>
        <input
          id="pg-model"
          list="pg-models"
          value={model}
          onInput={(event) => setModel(event.currentTarget.value)}
          placeholder="sentiment"
        />
        <datalist id="pg-models">
          {models.map((m) => (
            <option key={m.name} value={m.name}>
              {m.labels.join(', ')}
            </option>
          ))}
        </datalist>
        <fieldset>
          <legend>Key</legend>
          <label>
            <input type="radio" name="pg-key" checked={!useOther} onChange={() => setUseOther(false)} /> the signed-in key
          </label>
          <label>
            <input type="radio" name="pg-key" checked={useOther} onChange={() => setUseOther(true)} /> another key
          </label>
        </fieldset>
        {useOther && (
          <>
            <label for="pg-other-key">Other API key</label>
            <input
              id="pg-other-key"
              type="password"
              autocomplete="off"
              value={otherKey}
              onInput={(event) => setOtherKey(event.currentTarget.value)}
            />
          </>
        )}
        <label for="pg-text">Text</label>
        <textarea id="pg-text" rows={4} maxLength={10000} value={text} onInput={(event) => setText(event.currentTarget.value)} />
        <button type="submit" disabled={busy || key === ''}>
          {busy ? 'Predicting…' : 'Predict'}
        </button>
      </form>
      {result !== null && (
        <section class="card" aria-live="polite" data-testid="pg-result">
          <h2>Answer</h2>
          <dl class="fields">
            <div>
              <dt>HTTP status</dt>
              <dd data-testid="pg-status">{result.status === 0 ? 'no answer' : result.status}</dd>
            </div>
            <div>
              <dt>Latency (round trip)</dt>
              <dd>{formatMs(result.latencyMs)}</dd>
            </div>
            {result.prediction !== null && (
              <>
                <div>
                  <dt>Label</dt>
                  <dd data-testid="pg-label">{result.prediction.label ?? '—'}</dd>
                </div>
                <div>
                  <dt>Confidence</dt>
                  <dd>{result.prediction.confidence?.toFixed(3) ?? '—'}</dd>
                </div>
                <div>
                  <dt>Scores</dt>
                  <dd>
                    {Object.entries(result.prediction.scores ?? {})
                      .map(([label, score]) => `${label} ${score.toFixed(3)}`)
                      .join(', ')}
                  </dd>
                </div>
              </>
            )}
          </dl>
          {result.error !== null && (
            <p class="error" role="alert" data-testid="pg-error">
              {result.error}
            </p>
          )}
          <h3>Rate-limit headers</h3>
          {result.headers.length === 0 ? (
            <p class="muted">None.</p>
          ) : (
            <dl class="fields" data-testid="pg-headers">
              {result.headers.map(([name, value]) => (
                <div key={name}>
                  <dt>{name}</dt>
                  <dd>
                    <code>{value}</code>
                  </dd>
                </div>
              ))}
            </dl>
          )}
        </section>
      )}
    </>
  )
}
