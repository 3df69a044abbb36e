import { createHash } from 'node:crypto'

/**
 * What one config version holds: the gateway settings (listeners, admin, limits, access log) and every deployed
 * API with the environment label it is deployed to. A node serves the APIs of its own label.
 */
export interface VersionDocument {
  settings: Record<string, unknown>
  deployments: { environment: string; api: Record<string, unknown> }[]
}

/** A short digest of serialized JSON: a config version's, a node's. */
export function hashOfJson(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16)
}
