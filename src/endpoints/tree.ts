import { healthCheckIssue } from '../resilience/schema.ts'
import type { EndpointConfig } from './schema.ts'
import { plainHttpTlsIssue } from '../security/schema.ts'

type Path = (string | number)[]

/**
 * The children of a parsed group with their ids: each child's `name`, or its place in the group
 * (`orders#0`, `orders#1`). Each child was validated by the `Endpoint` schema.
 */
export function childEndpoints(group: object, groupId: string): [config: EndpointConfig, id: string][] {
  if (!('endpoints' in group) || !Array.isArray(group.endpoints)) return []
  return (group.endpoints as EndpointConfig[]).map((child, index) => [child, child.name ?? `${groupId}#${index}`])
}

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
    if ('endpoints' in node) {
      const mixed = mixedPrototypeIssue(node)
      if (mixed) issues.push({ path: at, message: mixed })
      continue
    }
    for (const issue of [healthCheckIssue(node), plainHttpTlsIssue(node), unusedSecurityIssue(node)]) {
      if (issue) issues.push({ path: [...at, ...issue.path], message: issue.message })
    }
  }
  return issues
}

/** Whether every leaf below is a prototype (true), none is (false), or they are mixed (undefined). */
function prototypeLeaves(node: object): boolean | undefined {
  if (!('endpoints' in node) || !Array.isArray(node.endpoints)) return 'type' in node && node.type === 'prototype'
  const kinds = new Set(node.endpoints.map((child: object) => prototypeLeaves(child)))
  return kinds.size === 1 ? [...kinds][0] : undefined
}

/**
 * A group of prototypes and real endpoints would serve mocks to a published API (or real backends to one still
 * being designed) whenever it fails over; the lifecycle gating needs a group to be one or the other.
 */
function mixedPrototypeIssue(group: object): string | undefined {
  if (prototypeLeaves(group) !== undefined) return undefined
  return 'mixes prototype endpoints with real ones; a group must be all prototypes (served while CREATED or PROTOTYPED) or none'
}

/** `security` on a leaf that never sends it: Lambda signs with AWS credentials, a prototype's mocks answer themselves. */
function unusedSecurityIssue(leaf: object): { path: string[]; message: string } | undefined {
  if (!('security' in leaf) || leaf.security === undefined || !('type' in leaf)) return undefined
  if (leaf.type === 'lambda') return { path: ['security'], message: 'is not used by a lambda endpoint, which signs its calls with AWS credentials (see credentials)' }
  if (leaf.type === 'prototype' && !('url' in leaf && leaf.url !== undefined)) {
    return { path: ['security'], message: 'is not used by a prototype endpoint without a backend url: its mocks call no backend' }
  }
  return undefined
}
