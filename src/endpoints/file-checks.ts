import { createRequire } from 'node:module'
import type { EndpointConfig } from './schema.ts'
import { endpointNodes } from './tree.ts'

// The checks are synchronous, like the loader that runs them, and their readers (an XML parser for WSDL, YAML for
// OpenAPI documents) load only when a config names such a file: `require`, which loads an ES module synchronously.
const requireHere = createRequire(import.meta.url)
const wsdlReader = (): typeof import('../soap/wsdl.ts') => requireHere('../soap/wsdl.ts')
const prototypeFiles = (): typeof import('../prototype/file-checks.ts') => requireHere('../prototype/file-checks.ts')

type Path = (string | number)[]
type Issue = { path: Path; message: string }

/** The leaf types that name files, each with what reads them; paths are below the leaf's. */
const CHECKS: { [T in EndpointConfig['type']]?: (leaf: Extract<EndpointConfig, { type: T }>) => Issue[] } = {
  wsdl: (leaf) => {
    if (/^https?:\/\//i.test(leaf.wsdl)) return []
    const problem = wsdlReader().wsdlFileProblem(leaf.wsdl, leaf.service, leaf.port)
    return problem ? [{ path: ['wsdl'], message: problem }] : []
  },
  prototype: (leaf) => prototypeFiles().prototypeFileIssues(leaf),
}

/** Whether an endpoint tree may name files at all: most are plain leaves that do not (thousands, in a large config). */
export function mayNameFiles(endpoint: EndpointConfig): boolean {
  return 'endpoints' in endpoint || CHECKS[endpoint.type] !== undefined
}

/**
 * What is wrong with the files an endpoint tree names (a `wsdl` leaf's WSDL file, a `prototype` leaf's OpenAPI
 * document and response files), found by reading them. Kept out of the schema, which reads nothing; the loader
 * runs it once the schema has passed, so that `portico validate` reports these problems as it reports the schema's.
 */
export function endpointFileIssues(endpoint: EndpointConfig, path: Path): Issue[] {
  const issues: Issue[] = []
  for (const { node, path: at } of endpointNodes(endpoint, path)) {
    const leaf = node as EndpointConfig
    const check = CHECKS[leaf.type] as ((leaf: EndpointConfig) => Issue[]) | undefined
    for (const issue of check?.(leaf) ?? []) issues.push({ path: [...at, ...issue.path], message: issue.message })
  }
  return issues
}
