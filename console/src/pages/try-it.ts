import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { call, get } from '../api.ts'
import { Problem } from './parts.ts'

/** The API's base path on the gateway (context and version, as the router serves it). */
function basePath(api: any): string {
  const context: string = api.context
  if (context.includes('{version}')) return context.replace('{version}', api.version)
  return `${context === '/' ? '' : context}/${api.version}`
}

/**
 * Calls a resource of the API through this node's gateway listener, so the answer is what a client gets. The
 * request starts from one of the API's resources: its method and its URI template with sample values.
 */
export function TryIt(props: { api: any }) {
  const { api } = props
  const resources: { uriTemplate: string; methods?: string[] }[] = api.resources ?? []
  const [documented, setDocumented] = useState<{ method: string; template: string; label: string }[]>([])
  // A prototype endpoint serving an OpenAPI document lists its operations: offered first, as the document names them.
  useEffect(() => {
    get('/endpoint-health').then((view) => {
      const ids: string[] = view.apis?.[`${api.name}:${api.version}`] ?? []
      const found: { method: string; template: string; label: string }[] = []
      const walk = (node: any) => {
        for (const operation of node.documentedOperations ?? []) found.push({ method: operation.method, template: operation.path, label: `OpenAPI: ${operation.method} ${operation.path}` })
        for (const child of node.children ?? []) walk(child)
      }
      for (const root of view.endpoints ?? []) if (ids.includes(root.id)) walk(root)
      setDocumented(found)
    }, () => {})
  }, [api.id])
  const options = [
    ...documented,
    ...resources.flatMap((resource) => (resource.methods?.length ? resource.methods : ['GET']).map((method) => ({ method, template: resource.uriTemplate, label: `${method} ${resource.uriTemplate}` }))),
  ]
  const [method, setMethod] = useState(options[0]?.method ?? 'GET')
  const [path, setPath] = useState(sample(basePath(api), options[0]?.template ?? '/'))
  // Once the document's operations arrive, the first of them is the request offered.
  useEffect(() => {
    if (documented[0]) {
      setMethod(documented[0].method)
      setPath(sample(basePath(api), documented[0].template))
    }
  }, [documented])
  const [headers, setHeaders] = useState('')
  const [body, setBody] = useState('')
  const [answer, setAnswer] = useState<any>(undefined)
  const [problem, setProblem] = useState('')
  const choose = (index: number) => {
    const option = options[index]
    if (!option) return
    setMethod(option.method === '*' ? 'GET' : option.method)
    setPath(sample(basePath(api), option.template))
  }
  const send = async (event: Event) => {
    event.preventDefault()
    setProblem('')
    setAnswer(undefined)
    try {
      const headerMap = Object.fromEntries(headers.split('\n').map((line) => line.trim()).filter(Boolean).map((line) => {
        const at = line.indexOf(':')
        return [line.slice(0, at).trim(), line.slice(at + 1).trim()]
      }))
      setAnswer((await call('POST', `/apis/${encodeURIComponent(api.id)}/try`, { method, path, headers: headerMap, ...(body ? { body } : {}) })).data)
    } catch (error) {
      setProblem((error as Error).message)
    }
  }
  return html`<form class="try" onSubmit=${send}>
    ${options.length ? html`<div class="field"><label for="try-resource">Resource</label>
      <select id="try-resource" onChange=${(event: any) => choose(Number(event.target.value))}>
        ${options.map((option, index) => html`<option value=${index}>${option.label}</option>`)}
      </select></div>` : null}
    <div class="field"><label for="try-method">Method</label>
      <select id="try-method" value=${method} onChange=${(event: any) => setMethod(event.target.value)}>
        ${['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'].map((m) => html`<option>${m}</option>`)}
      </select></div>
    <div class="field"><label for="try-path">Path</label><input id="try-path" value=${path} onInput=${(event: any) => setPath(event.target.value)} /></div>
    <div class="field"><label for="try-headers">Headers (one "name: value" per line)</label>
      <textarea id="try-headers" rows="2" value=${headers} onInput=${(event: any) => setHeaders(event.target.value)}></textarea></div>
    <div class="field"><label for="try-body">Body</label><textarea id="try-body" rows="3" value=${body} onInput=${(event: any) => setBody(event.target.value)}></textarea></div>
    <button type="submit">Send</button>
    <${Problem} text=${problem} />
    ${answer ? html`<section class="panel" aria-label="Answer">
      <p><strong class="status">${answer.status}</strong> in ${answer.timeMs} ms from <code>${answer.url}</code></p>
      <pre class="headers">${Object.entries(answer.headers).map(([name, value]) => `${name}: ${value}`).join('\n')}</pre>
      <pre class="body">${answer.body}${answer.truncated ? '\n…' : ''}</pre>
    </section>` : null}
  </form>`
}

/** A URI template with sample values: `{id}` becomes 1, a trailing `/*` nothing. */
function sample(base: string, template: string): string {
  const path = template.replace(/\/\*$/, '').replace(/\{[^}]+\}/g, '1')
  return `${base}${path === '/' ? '' : path}` || '/'
}
