import { healthCheckIssue } from './resilience-schema.ts'
import { plainHttpTlsIssue } from './security-schema.ts'

type Path = (string | number)[]

/** Every node of an endpoint tree (a leaf, or a group and all below it) with its path below `path`. */
export function endpointNodes(endpoint: object, path: Path = []): { node: object; path: Path }[] {
  const nodes = [{ node: endpoint, path }]
  if ('endpoints' in endpoint && Array.isArray(endpoint.endpoints)) {
    endpoint.endpoints.forEach((child: object, index: number) => nodes.push(...endpointNodes(child, [...path, 'endpoints', index])))
  }
  return nodes
}

/** Rules across one leaf's fields that its schema cannot state alone, checked on every leaf of the tree. */
export function leafIssues(endpoint: object, path: Path = []): { path: Path; message: string }[] {
  const issues: { path: Path; message: string }[] = []
  for (const { node, path: at } of endpointNodes(endpoint, path)) {
    if ('endpoints' in node) continue
    for (const issue of [healthCheckIssue(node), plainHttpTlsIssue(node)]) {
      if (issue) issues.push({ path: [...at, ...issue.path], message: issue.message })
    }
  }
  return issues
}
