import type { Generated } from 'kysely'

/** The store's tables as Kysely sees them. JSON is kept as text, so one schema fits both engines. */
export interface Tables {
  settings: { key: string; value: string }
  apis: {
    id: string
    name: string
    version: string
    context: string
    lifecycle: string
    /** The API as the config file writes it (secrets as the file gave them: references or values). */
    config: string
    /** Bumped by every change; the ETag. */
    etag: number
    created_at: string
    updated_at: string
  }
  lifecycle_history: { id: Generated<number>; api_id: string; from_state: string | null; to_state: string; action: string; actor: string; at: string }
  revisions: { id: string; api_id: string; number: number; config: string; description: string | null; created_by: string; created_at: string }
  deployments: { api_id: string; environment: string; revision_id: string; deployed_by: string; deployed_at: string }
  /** `document` holds the version whole (VersionDocument); `outline` by reference (VersionOutline), null in versions written before it. */
  config_versions: { version: number; document: string; outline: string | null; hash: string; reason: string; created_by: string; created_at: string }
  node_status: { node_id: string; version: number; hash: string; error: string | null; applied_at: string }
  admin_tokens: { id: string; name: string; hash: string; scopes: string; created_at: string }
  applications: { id: string; name: string; owner: string; throttling_policy: string; description: string | null; created_at: string }
  /** Consumer keys per application and key type (PRODUCTION, SANDBOX); the secret only as a hash. */
  application_keys: { application_id: string; key_type: string; consumer_key: string; secret_hash: string; created_at: string }
  subscriptions: { id: string; application_id: string; api_id: string; throttling_policy: string; status: string; created_at: string }
  audit_log: { id: Generated<number>; at: string; actor: string; action: string; target: string; before: string | null; after: string | null }
}
