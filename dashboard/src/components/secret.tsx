/** A new key's secret, shown once, with a copy button and a warning. */
import { useRef, useState } from 'preact/hooks'

async function copyText(text: string, field: HTMLInputElement | null): Promise<boolean> {
  try {
    await navigator.clipboard.writeText(text)
    return true
  } catch {
    // No clipboard permission: select the text so Ctrl+C copies it.
    field?.select()
    return false
  }
}

export function SecretPanel({ title, secret, onDone }: { title: string; secret: string; onDone: () => void }) {
  const [copied, setCopied] = useState<string | null>(null)
  const field = useRef<HTMLInputElement>(null)
  return (
    <section class="card secret" aria-labelledby="secret-title" data-testid="secret-panel">
      <h2 id="secret-title">{title}</h2>
      <p class="warning" role="alert">
        Copy this key now. It is shown only once: infergate keeps only its hash and cannot show it again.
      </p>
      <label for="new-secret">API key</label>
      <div class="row">
        <input id="new-secret" type="text" readOnly value={secret} ref={field} spellcheck={false} autocomplete="off" />
        <button
          type="button"
          onClick={() => {
            void copyText(secret, field.current).then((ok) =>
              setCopied(ok ? 'Copied to the clipboard.' : 'Could not copy: the key is selected, press Ctrl+C.'),
            )
          }}
        >
          Copy
        </button>
      </div>
      {copied !== null && (
        <p class="notice" role="status">
          {copied}
        </p>
      )}
      <button type="button" class="secondary" onClick={onDone}>
        I have saved it
      </button>
    </section>
  )
}
