import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, call, type FieldError } from '../api.ts'
import type { Shared } from '../main.ts'
import { ObjectFields, type FormContext } from '../schema-form.ts'
import { Health } from './health.ts'
import { Lifecycle, Revisions } from './lifecycle.ts'
import { Dialog, LifecycleBadge, Problem } from './parts.ts'
import { Traffic } from './traffic.ts'
import { TryIt } from './try-it.ts'

const TABS: [string, string][] = [
  ['overview', 'Definition'],
  ['endpoints', 'Endpoints'],
  ['lifecycle', 'Lifecycle'],
  ['revisions', 'Revisions'],
  ['health', 'Endpoint health'],
  ['try', 'Try it'],
  ['traffic', 'Traffic'],
]

export interface LoadedApi {
  api: any
  etag: string | undefined
}

export function ApiPage(props: { id: string; tab: string; shared: Shared }) {
  const { id, shared } = props
  const [loaded, setLoaded] = useState<LoadedApi | undefined>(undefined)
  const [problem, setProblem] = useState('')
  /** Said after a save: the editor is drawn afresh from what the API answered, under its new ETag. */
  const [notice, setNotice] = useState('')
  const saved = (next: LoadedApi) => {
    setLoaded(next)
    setNotice(`Saved at ${new Date().toLocaleTimeString()}.`)
  }
  const reload = () => call('GET', `/apis/${encodeURIComponent(id)}`).then(({ data, etag }) => setLoaded({ api: data, etag }), (error) => setProblem(error.message))
  useEffect(() => {
    if (id !== 'new') void reload()
  }, [id])
  useEffect(() => setNotice(''), [props.tab])
  if (id === 'new') {
    return html`<section><h1>Create an API</h1><${Editor} shared=${shared} loaded=${{ api: { resources: [{ uriTemplate: '/*', methods: ['GET'] }] }, etag: undefined }} part="new" onSaved=${() => {}} /></section>`
  }
  if (problem) return html`<${Problem} text=${problem} />`
  if (!loaded) return html`<p class="loading">Loading…</p>`
  const { api } = loaded
  const tab = TABS.some(([name]) => name === props.tab) ? props.tab : 'overview'
  const base = `#/apis/${encodeURIComponent(id)}`
  let body
  if (tab === 'overview') body = html`<${Editor} key=${`definition:${loaded.etag}`} shared=${shared} loaded=${loaded} part="definition" onSaved=${saved} onLoaded=${setLoaded} notice=${notice} />`
  else if (tab === 'endpoints') body = html`<${Editor} key=${`endpoints:${loaded.etag}`} shared=${shared} loaded=${loaded} part="endpoints" onSaved=${saved} onLoaded=${setLoaded} notice=${notice} />`
  else if (tab === 'lifecycle') body = html`<${Lifecycle} id=${id} shared=${shared} etag=${loaded.etag} onChanged=${reload} />`
  else if (tab === 'revisions') body = html`<${Revisions} id=${id} shared=${shared} />`
  else if (tab === 'health') body = html`<${Health} api=${api} shared=${shared} />`
  else if (tab === 'try') body = html`<${TryIt} api=${api} />`
  else body = html`<${Traffic} api=${api} />`
  return html`<section>
    <div class="title-row">
      <h1>${api.name} <span class="muted">${api.version}</span></h1>
      <${LifecycleBadge} state=${api.lifecycle ?? 'CREATED'} />
    </div>
    <p><code>${api.context}</code></p>
    <nav class="tabs" aria-label="API sections">
      ${TABS.map(([name, text]) => html`<a href=${`${base}/${name}`} aria-current=${name === tab ? 'page' : undefined}>${text}</a>`)}
    </nav>
    ${body}
  </section>`
}

/**
 * The definition (everything but the endpoints and the lifecycle) or the endpoints of an API, as a form drawn
 * from the API schema. Saves with the ETag it read: a change made meanwhile by someone else is a conflict, never
 * silently overwritten.
 */
function Editor(props: { shared: Shared; loaded: LoadedApi; part: 'new' | 'definition' | 'endpoints'; onSaved: (loaded: LoadedApi) => void; onLoaded?: (loaded: LoadedApi) => void; notice?: string }) {
  const { shared, loaded, part } = props
  const apiSchema = shared.schemas.Api
  const [value, setValue] = useState<any>(part === 'endpoints' ? loaded.api.endpoints : withoutReadOnly(loaded.api))
  const [errors, setErrors] = useState<FieldError[]>([])
  const [problem, setProblem] = useState('')
  const [saved, setSaved] = useState(props.notice ?? '')
  const [conflict, setConflict] = useState(false)
  const readOnly = !shared.can('create')
  const context: FormContext = { definitions: shared.schemas, errors, readOnly }
  const save = async (event: Event, force = false) => {
    event.preventDefault()
    setErrors([])
    setProblem('')
    setSaved('')
    try {
      const ifMatch: Record<string, string> = !force && loaded.etag ? { 'if-match': loaded.etag } : {}
      if (part === 'new') {
        const created = await call('POST', '/apis', value)
        location.hash = `#/apis/${encodeURIComponent(created.data.id)}/endpoints`
        return
      }
      const id = encodeURIComponent(loaded.api.id)
      if (part === 'endpoints') {
        const answer = await call('PUT', `/apis/${id}/endpoints`, value ?? {}, ifMatch)
        props.onSaved({ api: { ...loaded.api, endpoints: answer.data }, etag: answer.etag })
      } else {
        const answer = await call('PUT', `/apis/${id}`, { ...value, endpoints: loaded.api.endpoints }, ifMatch)
        props.onSaved({ api: answer.data, etag: answer.etag })
      }
    } catch (error) {
      if (!(error instanceof ApiError)) return setProblem((error as Error).message)
      if (error.status === 412) return setConflict(true)
      setErrors(error.errors)
      setProblem(error.errors.length ? `Not saved: ${error.errors.length} field(s) to correct.` : error.message)
    }
  }
  const reloadLatest = async () => {
    const { data, etag } = await call('GET', `/apis/${encodeURIComponent(loaded.api.id)}`)
    setConflict(false)
    props.onLoaded?.({ api: data, etag })
  }
  const skip = part === 'endpoints' ? [] : part === 'new' ? ['lifecycle'] : ['lifecycle', 'endpoints']
  const schema = part === 'endpoints' ? resolveEndpoints(apiSchema) : apiSchema
  return html`<form class="editor" onSubmit=${save} novalidate>
    ${part === 'endpoints' ? html`<p class="hint">Production and sandbox endpoints: choose a type for each, then fill its fields. A prototype endpoint (a mock or a prototype backend) serves the API while it is CREATED or PROTOTYPED. Secrets are write-only: leave them empty to keep the stored value.</p>` : null}
    <${ObjectFields} schema=${schema} value=${value} path=${part === 'endpoints' ? 'endpoints' : ''} onChange=${setValue} context=${context} skip=${skip} />
    <${Problem} text=${problem} />
    ${saved ? html`<p class="saved" role="status">${saved}</p>` : null}
    ${readOnly ? html`<p class="hint">Your token has no "create" scope: this form is read-only.</p>` : html`<button type="submit">${part === 'new' ? 'Create' : 'Save'}</button>`}
    ${conflict ? html`<${Dialog} title="Changed by someone else" onClose=${() => setConflict(false)}>
      <p>This API was changed since you opened it. Saving now would overwrite that change.</p>
      <div class="actions">
        <button type="button" onClick=${reloadLatest}>Load the latest version (drop my edits)</button>
        <button type="button" class="danger" onClick=${(event: Event) => { setConflict(false); void save(event, true) }}>Overwrite with my edits</button>
        <button type="button" class="secondary" onClick=${() => setConflict(false)}>Keep editing</button>
      </div>
    </${Dialog}>` : null}
  </form>`
}

function resolveEndpoints(apiSchema: any) {
  return apiSchema?.properties?.endpoints ?? { type: 'object', properties: {} }
}

function withoutReadOnly(api: any) {
  const { id: _id, createdAt: _created, updatedAt: _updated, ...rest } = api
  return rest
}
