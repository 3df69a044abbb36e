import { createHash } from 'node:crypto'

/**
 * What one config version holds: the gateway settings (listeners, admin, limits, access log) and every deployed
 * API with the environment label it is deployed to. A node serves the APIs of its own label.
 */
export interface VersionDocument {
  settings: Record<string, unknown>
  deployments: { environment: string; api: Record<string, unknown> }[]
}

/** The config file a node with `environment` serves from `document`, as raw data for the config loader. */
export function nodeConfig(document: VersionDocument, environment: string): Record<string, unknown> {
  return { ...document.settings, apis: document.deployments.filter((deployment) => deployment.environment === environment).map((deployment) => deployment.api) }
}

export function hashOf(value: unknown): string {
  return hashOfJson(JSON.stringify(value))
}

/** hashOf for a value already serialized: a version document of thousands of APIs is megabytes to serialize. */
export function hashOfJson(json: string): string {
  return createHash('sha256').update(json).digest('hex').slice(0, 16)
}
