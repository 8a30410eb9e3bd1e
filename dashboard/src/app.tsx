/** The shell: sign-in until an admin key is accepted, then the navigation and the pages. */
import { useEffect, useState } from 'preact/hooks'
import { onSessionLost } from './api'
import { endSession, sessionKey, startSession } from './session'
import { href, useRoute } from './router'
import { SignIn } from './pages/sign-in'
import { Overview } from './pages/overview'
import { Keys } from './pages/keys'
import { KeyPage } from './pages/key-detail'
import { Audit } from './pages/audit'
import { Jobs } from './pages/jobs'
import { Playground } from './pages/playground'

const PAGES = [
  ['overview', 'Overview'],
  ['keys', 'Keys'],
  ['audit', 'Audit'],
  ['jobs', 'Jobs'],
  ['playground', 'Playground'],
] as const

function Page({ route }: { route: string[] }) {
  const [page, id] = route
  if (page === 'keys' && id !== undefined) return <KeyPage id={id} />
  if (page === 'keys') return <Keys />
  if (page === 'audit') return <Audit />
  if (page === 'jobs') return <Jobs />
  if (page === 'playground') return <Playground />
  return <Overview />
}

export function App() {
  const [signedIn, setSignedIn] = useState(sessionKey() !== null)
  const [message, setMessage] = useState<string | null>(null)
  const route = useRoute()
  useEffect(() => {
    onSessionLost((text) => {
      endSession()
      setMessage(text)
      setSignedIn(false)
    })
  }, [])
  if (!signedIn) {
    return (
      <SignIn
        message={message}
        onSignedIn={(key) => {
          startSession(key)
          setMessage(null)
          setSignedIn(true)
        }}
      />
    )
  }
  const active = route[0] ?? 'overview'
  return (
    <div class="shell">
      <a
        class="skip"
        href="#main"
        onClick={(event) => {
          event.preventDefault()
          document.getElementById('main')?.focus()
        }}
      >
        Skip to content
      </a>
      <header class="top">
        <span class="brand">infergate</span>
        <nav aria-label="Dashboard pages">
          <ul>
            {PAGES.map(([name, label]) => (
              <li key={name}>
                <a href={href(name)} aria-current={active === name ? 'page' : undefined}>
                  {label}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button
          type="button"
          class="secondary"
          onClick={() => {
            endSession()
            setMessage('Signed out.')
            setSignedIn(false)
          }}
        >
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <Page route={route} />
      </main>
    </div>
  )
}
