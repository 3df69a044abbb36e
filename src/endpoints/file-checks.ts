import { prototypeFileIssues } from '../prototype/file-checks.ts'
import { wsdlFileProblem } from '../soap/wsdl.ts'
import type { EndpointConfig } from './schema.ts'
import { endpointNodes } from './tree.ts'

type Path = (string | number)[]

/**
 * What is wrong with the files an endpoint tree names (a `wsdl` leaf's WSDL file, a `prototype` leaf's OpenAPI
 * document and response files), found by reading them. Kept out of the schema, which reads nothing; the loader
 * runs it once the schema has passed, so that `portico validate` reports these problems as it reports the schema's.
 */
export function endpointFileIssues(endpoint: EndpointConfig, path: Path): { path: Path; message: string }[] {
  const issues: { path: Path; message: string }[] = []
  for (const { node, path: at } of endpointNodes(endpoint, path)) {
    const leaf = node as EndpointConfig
    if (leaf.type === 'prototype') {
      for (const issue of prototypeFileIssues(leaf)) issues.push({ path: [...at, ...issue.path], message: issue.message })
    }
    if (leaf.type !== 'wsdl' || /^https?:\/\//i.test(leaf.wsdl)) continue
    const problem = wsdlFileProblem(leaf.wsdl, leaf.service, leaf.port)
    if (problem) issues.push({ path: [...at, 'wsdl'], message: problem })
  }
  return issues
}
