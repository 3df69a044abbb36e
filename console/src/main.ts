import { render } from 'preact'
import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, get, session } from './api.ts'
import { ApiList } from './pages/api-list.ts'
import { ApiPage } from './pages/api-page.ts'
import { Applications } from './pages/applications.ts'
import { Nodes } from './pages/nodes.ts'
import type { Schema } from './schema-form.ts'

export interface Identity {
  name: string
  scopes: string[]
}

export interface Shared {
  identity: Identity
  /** The publisher API's OpenAPI document: the schemas the forms are drawn from. */
  schemas: Record<string, Schema>
  can: (scope: string) => boolean
}

function useHash(): string {
  const [hash, setHash] = useState(location.hash || '#/apis')
  useEffect(() => {
    const onChange = () => setHash(location.hash || '#/apis')
    addEventListener('hashchange', onChange)
    return () => removeEventListener('hashchange', onChange)
  }, [])
  return hash
}

function SignIn(props: { onSignedIn: (identity: Identity) => void; problem?: string }) {
  const [token, setToken] = useState('')
  const [problem, setProblem] = useState(props.problem ?? '')
  const submit = async (event: Event) => {
    event.preventDefault()
    session.token = token.trim()
    try {
      props.onSignedIn(await get<Identity>('/me'))
    } catch (error) {
      session.token = ''
      const status = error instanceof ApiError ? error.status : 0
      setProblem(
        status === 401 ? 'That token is not known to this gateway.'
        : status === 404 ? 'This node serves a config file, not a config store: the console needs portico start --store.'
        : `Sign-in failed: ${(error as Error).message}`,
      )
    }
  }
  return html`<main class="sign-in">
    <h1>Portico console</h1>
    <form onSubmit=${submit}>
      <label for="token">Admin token</label>
      <input id="token" type="password" autocomplete="off" value=${token} onInput=${(event: any) => setToken(event.target.value)} required />
      <p class="hint">The token <code>portico start --store</code> printed at its first start, or one made with <code>POST /api/v1/tokens</code>. It is kept in this tab only.</p>
      ${problem ? html`<p class="field-error" role="alert">${problem}</p>` : null}
      <button type="submit">Sign in</button>
    </form>
  </main>`
}

function App() {
  const hash = useHash()
  const [identity, setIdentity] = useState<Identity | undefined>(undefined)
  const [schemas, setSchemas] = useState<Record<string, Schema> | undefined>(undefined)
  const [checking, setChecking] = useState(Boolean(session.token))
  useEffect(() => {
    if (!session.token) return
    get<Identity>('/me').then(setIdentity, () => (session.token = '')).finally(() => setChecking(false))
  }, [])
  useEffect(() => {
    if (identity && !schemas) get('/openapi.json').then((document) => setSchemas(document.components.schemas))
  }, [identity])
  if (checking) return html`<p class="loading">Checking the token…</p>`
  if (!identity) return html`<${SignIn} onSignedIn=${setIdentity} />`
  const shared: Shared = { identity, schemas: schemas ?? {}, can: (scope) => identity.scopes.includes(scope) }
  const [, section = 'apis', id, tab] = hash.slice(1).split('/')
  const signOut = () => {
    session.token = ''
    setIdentity(undefined)
  }
  const link = (href: string, text: string, current: boolean) => html`<a href=${href} aria-current=${current ? 'page' : undefined}>${text}</a>`
  let page
  if (!schemas) page = html`<p class="loading">Loading…</p>`
  else if (section === 'apis' && id) page = html`<${ApiPage} key=${id} id=${decodeURIComponent(id)} tab=${tab ?? 'overview'} shared=${shared} />`
  else if (section === 'applications') page = html`<${Applications} shared=${shared} />`
  else if (section === 'nodes') page = html`<${Nodes} shared=${shared} />`
  else page = html`<${ApiList} shared=${shared} />`
  return html`<div class="shell">
    <header>
      <a class="brand" href="#/apis">Portico</a>
      <nav aria-label="Main">
        ${link('#/apis', 'APIs', section === 'apis')}
        ${link('#/applications', 'Applications', section === 'applications')}
        ${link('#/nodes', 'Nodes', section === 'nodes')}
      </nav>
      <span class="who">${identity.name} · ${identity.scopes.join(', ')}</span>
      <button type="button" class="small" onClick=${signOut}>Sign out</button>
    </header>
    <main>${page}</main>
  </div>`
}

const root = document.getElementById('app')!
root.replaceChildren()
render(html`<${App} />`, root)
