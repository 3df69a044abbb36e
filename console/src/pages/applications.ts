import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import type { Shared } from '../main.ts'
import { Dialog, Problem } from './parts.ts'

const TIERS = ['Unlimited', 'Gold', 'Silver', 'Bronze']

/** Applications, their production and sandbox keys, and their subscriptions to APIs with a tier. */
export function Applications(props: { shared: Shared }) {
  const { shared } = props
  const [apps, setApps] = useState<any[] | undefined>(undefined)
  const [name, setName] = useState('')
  const [tier, setTier] = useState('Unlimited')
  const [problem, setProblem] = useState('')
  const load = () => get('/applications').then((answer) => setApps(answer.list), (error) => setProblem(error.message))
  useEffect(() => void load(), [])
  const create = async (event: Event) => {
    event.preventDefault()
    setProblem('')
    try {
      await call('POST', '/applications', { name, throttlingPolicy: tier })
      setName('')
      void load()
    } catch (error) {
      setProblem((error as Error).message)
    }
  }
  return html`<section>
    <h1>Applications</h1>
    <${Problem} text=${problem} />
    ${shared.can('subscribe') ? html`<form class="inline-form" onSubmit=${create}>
      <div class="field"><label for="app-name">Name</label><input id="app-name" value=${name} required onInput=${(event: any) => setName(event.target.value)} /></div>
      <div class="field"><label for="app-tier">Tier</label><select id="app-tier" value=${tier} onChange=${(event: any) => setTier(event.target.value)}>${TIERS.map((t) => html`<option>${t}</option>`)}</select></div>
      <button type="submit">Create application</button>
    </form>` : null}
    ${!apps ? null : apps.length === 0 ? html`<p class="muted">No application yet.</p>` : apps.map((app) => html`<${Application} key=${app.id} app=${app} shared=${shared} onChanged=${load} />`)}
  </section>`
}

function Application(props: { app: any; shared: Shared; onChanged: () => void }) {
  const { app, shared } = props
  const id = encodeURIComponent(app.id)
  const [keys, setKeys] = useState<any[]>([])
  const [subscriptions, setSubscriptions] = useState<any[]>([])
  const [apis, setApis] = useState<any[]>([])
  const [secret, setSecret] = useState<any>(undefined)
  const [apiId, setApiId] = useState('')
  const [tier, setTier] = useState('Unlimited')
  const [problem, setProblem] = useState('')
  const load = () => {
    get(`/applications/${id}/keys`).then((answer) => setKeys(answer.list), () => {})
    get(`/subscriptions?applicationId=${id}`).then((answer) => setSubscriptions(answer.list), () => {})
  }
  useEffect(() => {
    load()
    get('/apis?limit=500&query=lifecycle:PUBLISHED').then((answer) => setApis(answer.list), () => {})
  }, [app.id])
  const run = async (action: () => Promise<any>) => {
    setProblem('')
    try {
      const answer = await action()
      load()
      return answer
    } catch (error) {
      setProblem((error as Error).message)
    }
  }
  const apiName = (apiId: string) => {
    const api = apis.find((candidate) => candidate.id === apiId)
    return api ? `${api.name} ${api.version}` : apiId
  }
  return html`<article class="panel">
    <h2>${app.name} <span class="muted">${app.throttlingPolicy}</span></h2>
    <${Problem} text=${problem} />
    <h3>Keys</h3>
    ${keys.length === 0 ? html`<p class="muted">No keys.</p>` : html`<ul>${keys.map((key) => html`<li>${key.keyType}: <code>${key.consumerKey}</code></li>`)}</ul>`}
    ${shared.can('subscribe') ? html`<div class="actions">
      ${['PRODUCTION', 'SANDBOX'].map((keyType) => html`<button type="button" class="small" onClick=${async () => setSecret((await run(() => call('POST', `/applications/${id}/generate-keys`, { keyType })))?.data)}>Generate ${keyType.toLowerCase()} keys</button>`)}
      <button type="button" class="small danger" onClick=${() => run(() => call('DELETE', `/applications/${id}`)).then(props.onChanged)}>Delete ${app.name}</button>
    </div>` : null}
    ${secret ? html`<${Dialog} title="New keys" onClose=${() => setSecret(undefined)}>
      <p>The secret is shown this once; only its hash is kept.</p>
      <dl><dt>Consumer key</dt><dd><code>${secret.consumerKey}</code></dd><dt>Consumer secret</dt><dd><code>${secret.consumerSecret}</code></dd></dl>
      <button type="button" onClick=${() => setSecret(undefined)}>I have kept it</button>
    </${Dialog}>` : null}
    <h3>Subscriptions</h3>
    ${subscriptions.length === 0 ? html`<p class="muted">No subscription.</p>` : html`<ul>${subscriptions.map((subscription) => html`<li>
      ${apiName(subscription.apiId)} · ${subscription.throttlingPolicy} · ${subscription.status}
      ${shared.can('subscribe') ? html` <button type="button" class="small danger" onClick=${() => run(() => call('DELETE', `/subscriptions/${encodeURIComponent(subscription.id)}`))}>Unsubscribe from ${apiName(subscription.apiId)}</button>` : null}
    </li>`)}</ul>`}
    ${shared.can('subscribe') ? html`<form class="inline-form" onSubmit=${(event: Event) => { event.preventDefault(); void run(() => call('POST', '/subscriptions', { applicationId: app.id, apiId, throttlingPolicy: tier })) }}>
      <div class="field"><label for=${`sub-api-${app.id}`}>API</label><select id=${`sub-api-${app.id}`} value=${apiId} required onChange=${(event: any) => setApiId(event.target.value)}>
        <option value="">Choose a published API</option>${apis.map((api) => html`<option value=${api.id}>${api.name} ${api.version}</option>`)}</select></div>
      <div class="field"><label for=${`sub-tier-${app.id}`}>Tier</label><select id=${`sub-tier-${app.id}`} value=${tier} onChange=${(event: any) => setTier(event.target.value)}>${TIERS.map((t) => html`<option>${t}</option>`)}</select></div>
      <button type="submit">Subscribe</button>
    </form>` : null}
  </article>`
}
