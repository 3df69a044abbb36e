import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { get } from '../api.ts'
import type { Shared } from '../main.ts'
import { LifecycleBadge } from './parts.ts'

const PAGE = 50

interface Summary {
  id: string
  name: string
  version: string
  context: string
  lifecycleStatus: string
  deployedTo: string[]
}

export function ApiList(props: { shared: Shared }) {
  const [query, setQuery] = useState('')
  const [offset, setOffset] = useState(0)
  const [page, setPage] = useState<{ list: Summary[]; pagination: { total: number } } | undefined>(undefined)
  const [problem, setProblem] = useState('')
  useEffect(() => {
    const timer = setTimeout(() => {
      get(`/apis?limit=${PAGE}&offset=${offset}${query ? `&query=${encodeURIComponent(query)}` : ''}`).then(setPage, (error) => setProblem(error.message))
    }, query ? 200 : 0)
    return () => clearTimeout(timer)
  }, [query, offset])
  const total = page?.pagination.total ?? 0
  return html`<section>
    <div class="title-row">
      <h1>APIs</h1>
      ${props.shared.can('create') ? html`<a class="button" href="#/apis/new">Create API</a>` : null}
    </div>
    <div class="field search">
      <label for="search">Search</label>
      <input id="search" type="search" value=${query} placeholder="words, or name:, context:, version:, lifecycle:"
        onInput=${(event: any) => { setOffset(0); setQuery(event.target.value) }} />
    </div>
    ${problem ? html`<p class="field-error" role="alert">${problem}</p>` : null}
    ${!page ? html`<p class="loading">Loading…</p>` : page.list.length === 0 ? html`<p>No API matches.</p>` : html`
      <table>
        <caption class="visually-hidden">APIs</caption>
        <thead><tr><th scope="col">Name</th><th scope="col">Version</th><th scope="col">Context</th><th scope="col">Lifecycle</th><th scope="col">Deployed to</th></tr></thead>
        <tbody>
          ${page.list.map((api) => html`<tr key=${api.id}>
            <td><a href=${`#/apis/${encodeURIComponent(api.id)}`}>${api.name}</a></td>
            <td>${api.version}</td>
            <td><code>${api.context}</code></td>
            <td><${LifecycleBadge} state=${api.lifecycleStatus} /></td>
            <td>${api.deployedTo.length ? api.deployedTo.join(', ') : html`<span class="muted">not deployed</span>`}</td>
          </tr>`)}
        </tbody>
      </table>
      <nav class="pager" aria-label="Pages">
        <button type="button" class="small" disabled=${offset === 0} onClick=${() => setOffset(Math.max(0, offset - PAGE))}>Previous</button>
        <span>${offset + 1}–${Math.min(offset + PAGE, total)} of ${total}</span>
        <button type="button" class="small" disabled=${offset + PAGE >= total} onClick=${() => setOffset(offset + PAGE)}>Next</button>
      </nav>`}
  </section>`
}
