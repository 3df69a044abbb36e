import { html } from 'htm/preact'
import { useEffect, useState } from 'preact/hooks'
import { get } from '../api.ts'
import type { Shared } from '../main.ts'
import { NodeTable } from './lifecycle.ts'
import { Problem } from './parts.ts'

/** Which config version each node serves. */
export function Nodes(_props: { shared: Shared }) {
  const [nodes, setNodes] = useState<any>(undefined)
  const [problem, setProblem] = useState('')
  useEffect(() => {
    const load = () => get('/nodes').then(setNodes, (error) => setProblem(error.message))
    void load()
    const timer = setInterval(load, 5000)
    return () => clearInterval(timer)
  }, [])
  return html`<section><h1>Nodes</h1><${Problem} text=${problem} />${nodes ? html`<${NodeTable} nodes=${nodes} />` : null}</section>`
}
