import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { ApiError, call, follow } from '../api.ts'
import type { Shared } from '../main.ts'
import { Problem, StateBadge } from './parts.ts'

/**
 * The API's endpoint trees with each leaf's state, live: the node streams a new view whenever a leaf changes
 * state (and its counters every second). A suspended leaf counts down to its retry; an operator may reset it.
 */
export function Health(props: { api: any; shared: Shared }) {
  const { api, shared } = props
  const [view, setView] = useState<any>(undefined)
  const [connected, setConnected] = useState(false)
  const [problem, setProblem] = useState('')
  const [, tick] = useState(0)
  useEffect(() => {
    const abort = new AbortController()
    void follow('/endpoint-health', setView, setConnected, abort.signal)
    const timer = setInterval(() => tick((n) => n + 1), 1000)
    return () => {
      abort.abort()
      clearInterval(timer)
    }
  }, [])
  const key = `${api.name}:${api.version}`
  const ids: string[] | undefined = view?.apis?.[key]
  const roots: any[] = view ? view.endpoints.filter((root: any) => (ids ? ids.includes(root.id) : root.id.startsWith(`${key}:`))) : []
  const reset = async (id: string) => {
    setProblem('')
    try {
      await call('POST', `/endpoint-health/${encodeURIComponent(id)}/reset`)
    } catch (error) {
      setProblem(error instanceof ApiError ? error.message : String(error))
    }
  }
  return html`<div>
    <p class="live" role="status">${connected ? 'Live: updates as leaves change state.' : 'Connecting to the node…'}</p>
    <${Problem} text=${problem} />
    ${view && roots.length === 0 ? html`<p class="muted">This node serves no endpoint of this API (is it deployed here, and not RETIRED?).</p>` : null}
    <ul class="tree" aria-label="Endpoint trees">${roots.map((root) => html`<${Node} node=${root} canReset=${shared.can('publish')} onReset=${reset} />`)}</ul>
    <${EndpointTest} api=${api} shared=${shared} />
  </div>`
}

function Node(props: { node: any; canReset: boolean; onReset: (id: string) => void }) {
  const { node } = props
  const failures = Object.entries(node.failures ?? {}) as [string, number][]
  const failed = failures.reduce((sum, [, count]) => sum + count, 0)
  const last = failures.sort((a, b) => b[1] - a[1])[0]?.[0]
  const retryIn = node.nextRetry ? Math.max(0, Math.ceil((Date.parse(node.nextRetry) - Date.now()) / 1000)) : undefined
  const leaf = !node.children
  return html`<li class="tree-node" data-endpoint=${node.id}>
    <div class="tree-row">
      <strong>${node.id}</strong> <span class="muted">${node.type}</span> <${StateBadge} state=${node.state} />
      ${node.state === 'suspended' && retryIn !== undefined ? html`<span class="countdown">until ${new Date(node.nextRetry).toLocaleTimeString()} (${retryIn} s)</span>` : null}
      ${leaf ? html`<span class="counters">attempts ${node.attempts ?? 0} · failures ${failed}${last ? ` · last kind ${last}` : ''}</span>` : null}
      ${leaf && props.canReset && node.state !== 'active' ? html`<button type="button" class="small" onClick=${() => props.onReset(node.id)}>Reset ${node.id}</button>` : null}
    </div>
    ${node.children ? html`<ul>${node.children.map((child: any) => html`<${Node} node=${child} canReset=${props.canReset} onReset=${props.onReset} />`)}</ul>` : null}
  </li>`
}

/** Calls the backends of an endpoint from the node, with a real method and path, and shows each answer. */
function EndpointTest(props: { api: any; shared: Shared }) {
  const [environment, setEnvironment] = useState('production')
  const [method, setMethod] = useState('GET')
  const [path, setPath] = useState('/')
  const [result, setResult] = useState<any>(undefined)
  const [problem, setProblem] = useState('')
  const [busy, setBusy] = useState(false)
  if (!props.shared.can('create')) return null
  const test = async (event: Event) => {
    event.preventDefault()
    setBusy(true)
    setProblem('')
    try {
      setResult((await call('POST', `/apis/${encodeURIComponent(props.api.id)}/endpoint-test`, { environment, method, path })).data)
    } catch (error) {
      setProblem((error as Error).message)
    } finally {
      setBusy(false)
    }
  }
  return html`<section class="panel">
    <h2>Test endpoint</h2>
    <form class="inline-form" onSubmit=${test}>
      <div class="field"><label for="test-environment">Environment</label>
        <select id="test-environment" value=${environment} onChange=${(event: any) => setEnvironment(event.target.value)}><option>production</option><option>sandbox</option></select></div>
      <div class="field"><label for="test-method">Method</label>
        <select id="test-method" value=${method} onChange=${(event: any) => setMethod(event.target.value)}>${['GET', 'HEAD', 'OPTIONS', 'POST'].map((m) => html`<option>${m}</option>`)}</select></div>
      <div class="field"><label for="test-path">Path</label><input id="test-path" value=${path} onInput=${(event: any) => setPath(event.target.value)} /></div>
      <button type="submit" disabled=${busy}>Test</button>
    </form>
    <${Problem} text=${problem} />
    ${result ? html`<ul class="results">${result.leaves.map((leaf: any) => html`<li>
      <strong>${leaf.at}</strong> <span class="muted">${leaf.type}</span> ${leaf.url ? html`<code>${leaf.url}</code>` : null}
      ${leaf.answer ? html`<p>Answered <strong>${leaf.answer.status}</strong> in ${leaf.answer.timeMs} ms</p><pre>${leaf.answer.body.slice(0, 2000)}</pre>` : html`<p class="field-error">${leaf.error}</p>`}
    </li>`)}</ul>` : null}
  </section>`
}
