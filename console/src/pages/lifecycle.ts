import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, call, get } from '../api.ts'
import type { Shared } from '../main.ts'
import { Dialog, formatTime, LifecycleBadge, Problem } from './parts.ts'

interface Transition {
  event: string
  targetState: string
}

/** How often the revisions page looks again while a deployment has not reached every node. */
const SETTLE_POLL_MS = 1000

const CHECK_KEYS: Record<string, string> = { 'Deprecate old versions': 'deprecateOldVersions', 'Require re-subscription': 'requireResubscription' }

/** The lifecycle: only the actions the API offers now, each confirmed, with Publish's checklist; and the history. */
export function Lifecycle(props: { id: string; shared: Shared; etag: string | undefined; onChanged: () => void }) {
  const id = encodeURIComponent(props.id)
  const [state, setState] = useState<any>(undefined)
  const [history, setHistory] = useState<any[]>([])
  const [asking, setAsking] = useState<Transition | undefined>(undefined)
  const [checks, setChecks] = useState<Record<string, boolean>>({})
  const [problem, setProblem] = useState('')
  const load = () => {
    get(`/apis/${id}/lifecycle`).then(setState, (error) => setProblem(error.message))
    get(`/apis/${id}/lifecycle-history`).then((answer) => setHistory(answer.list), () => {})
  }
  useEffect(load, [props.id])
  const act = async () => {
    const transition = asking!
    setAsking(undefined)
    setProblem('')
    try {
      const checklist = Object.fromEntries(Object.entries(checks).map(([name, on]) => [CHECK_KEYS[name] ?? name, on]))
      await call('POST', `/apis/${id}/lifecycle`, { action: transition.event, checklist })
      load()
      props.onChanged()
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : String(error))
    }
  }
  if (!state) return html`<${Problem} text=${problem} />`
  const items: any[] = state.checkItems ?? []
  return html`<div>
    <h2>State: <${LifecycleBadge} state=${state.state} /></h2>
    <${Problem} text=${problem} />
    <div class="actions">
      ${state.availableTransitions.length === 0 ? html`<p>No action: this state is final.</p>` : null}
      ${state.availableTransitions.map((transition: Transition) => html`<button type="button" disabled=${!props.shared.can('publish')}
        onClick=${() => { setChecks({}); setAsking(transition) }}>${transition.event}</button>`)}
    </div>
    ${props.shared.can('publish') ? null : html`<p class="hint">Your token has no "publish" scope: lifecycle actions are not available.</p>`}
    ${asking ? html`<${Dialog} title=${`${asking.event}?`} onClose=${() => setAsking(undefined)}>
      <p>The API goes from <strong>${state.state}</strong> to <strong>${asking.targetState}</strong>. A deployed API changes on every node at once.</p>
      ${asking.event === 'Publish' ? items.map((item) => {
        const name = typeof item === 'string' ? item : item.name
        const key = `check-${name.replace(/\W+/g, '-')}`
        return html`<div class="field check"><input type="checkbox" id=${key} checked=${checks[name] ?? false}
          onChange=${(event: any) => setChecks({ ...checks, [name]: event.target.checked })} /><label for=${key}>${name}</label></div>`
      }) : null}
      <div class="actions">
        <button type="button" onClick=${act}>${asking.event}</button>
        <button type="button" class="secondary" onClick=${() => setAsking(undefined)}>Cancel</button>
      </div>
    </${Dialog}>` : null}
    <h2>History</h2>
    ${history.length === 0 ? html`<p class="muted">No change yet.</p>` : html`<table>
      <thead><tr><th scope="col">When</th><th scope="col">From</th><th scope="col">To</th><th scope="col">Action</th><th scope="col">By</th></tr></thead>
      <tbody>${history.map((entry) => html`<tr>
        <td>${formatTime(entry.updatedTime)}</td><td>${entry.previousState ?? ''}</td>
        <td>${entry.postState}</td><td>${entry.action}</td><td>${entry.user}</td>
      </tr>`)}</tbody>
    </table>`}
  </div>`
}

/** Revisions (immutable snapshots), where each is deployed, and which version each node runs. */
export function Revisions(props: { id: string; shared: Shared }) {
  const id = encodeURIComponent(props.id)
  const [revisions, setRevisions] = useState<any[]>([])
  const [deployments, setDeployments] = useState<any[]>([])
  const [nodes, setNodes] = useState<any>(undefined)
  const [description, setDescription] = useState('')
  const [environment, setEnvironment] = useState('default')
  const [problem, setProblem] = useState('')
  const load = () => {
    get(`/apis/${id}/revisions`).then((answer) => setRevisions(answer.list), (error) => setProblem(error.message))
    get(`/apis/${id}/deployments`).then((answer) => setDeployments(answer.list), () => {})
    get('/nodes').then(setNodes, () => {})
  }
  useEffect(load, [props.id])
  // A deployment's nodes report it a moment after the deployment call: until each is deployed (or failed), look again.
  const settling = deployments.some((deployment) => deployment.status === 'pending' || deployment.status === 'partially deployed')
  useEffect(() => {
    if (!settling) return
    const timer = setTimeout(() => {
      get(`/apis/${id}/deployments`).then((answer) => setDeployments(answer.list), () => {})
      get('/nodes').then(setNodes, () => {})
    }, SETTLE_POLL_MS)
    return () => clearTimeout(timer)
  }, [settling, deployments])
  const run = async (action: () => Promise<unknown>) => {
    setProblem('')
    try {
      await action()
      load()
    } catch (error) {
      setProblem((error as Error).message)
    }
  }
  const deployedRevision = new Map(deployments.map((deployment) => [deployment.revisionId, deployment]))
  return html`<div>
    <${Problem} text=${problem} />
    ${props.shared.can('create') ? html`<form class="inline-form" onSubmit=${(event: Event) => { event.preventDefault(); void run(() => call('POST', `/apis/${id}/revisions`, { description })).then(() => setDescription('')) }}>
      <div class="field"><label for="revision-description">Description</label>
      <input id="revision-description" value=${description} onInput=${(event: any) => setDescription(event.target.value)} /></div>
      <button type="submit">Create revision</button>
    </form>` : null}
    <div class="field"><label for="environment">Gateway environment</label>
      <input id="environment" value=${environment} onInput=${(event: any) => setEnvironment(event.target.value)} /></div>
    <h2>Revisions</h2>
    ${revisions.length === 0 ? html`<p class="muted">No revision yet: create one, then deploy it.</p>` : html`<table>
      <thead><tr><th scope="col">Revision</th><th scope="col">Description</th><th scope="col">Created</th><th scope="col">Deployed</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${[...revisions].reverse().map((revision) => html`<tr>
        <td>${revision.number}</td><td>${revision.description ?? ''}</td><td>${formatTime(revision.createdAt)}</td>
        <td>${deployedRevision.has(revision.id) ? `${deployedRevision.get(revision.id).environment} (${deployedRevision.get(revision.id).status})` : ''}</td>
        <td>${props.shared.can('publish') && deployedRevision.get(revision.id)?.environment !== environment ? html`<button type="button" class="small" onClick=${() => run(() => call('POST', `/apis/${id}/deployments`, { revisionId: revision.id, environment }))}>
          ${deployments.length && !deployedRevision.has(revision.id) ? 'Roll back / deploy' : 'Deploy'} revision ${revision.number}</button>` : null}</td>
      </tr>`)}</tbody>
    </table>`}
    <h2>Deployments</h2>
    ${deployments.length === 0 ? html`<p class="muted">Not deployed.</p>` : html`<table>
      <thead><tr><th scope="col">Environment</th><th scope="col">Revision</th><th scope="col">Status</th><th scope="col">By</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
      <tbody>${deployments.map((deployment) => html`<tr>
        <td>${deployment.environment}</td><td>${deployment.revision}</td><td>${deployment.status}</td><td>${deployment.deployedBy}</td>
        <td>${props.shared.can('publish') ? html`<button type="button" class="small danger" onClick=${() => run(() => call('DELETE', `/apis/${id}/deployments/${encodeURIComponent(deployment.environment)}`))}>Undeploy</button>` : null}</td>
      </tr>`)}</tbody>
    </table>`}
    <h2>Nodes</h2>
    ${nodes ? html`<${NodeTable} nodes=${nodes} />` : null}
  </div>`
}

export function NodeTable(props: { nodes: any }) {
  const { latestVersion, nodes } = props.nodes
  return html`<p>Latest config version: <strong>${latestVersion}</strong></p>
    ${nodes.length === 0 ? html`<p class="muted">No node has reported yet.</p>` : html`<table>
      <thead><tr><th scope="col">Node</th><th scope="col">Version served</th><th scope="col">Reported</th><th scope="col">Error</th></tr></thead>
      <tbody>${nodes.map((node: any) => html`<tr>
        <td>${node.nodeId}</td>
        <td>${node.version}${node.version === latestVersion ? '' : html` <span class="badge state-timeout">behind</span>`}</td>
        <td>${formatTime(node.appliedAt)}</td><td>${node.error ?? ''}</td>
      </tr>`)}</tbody>
    </table>`}`
}
