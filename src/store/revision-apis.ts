import type { Kysely } from 'kysely'
import type { Tables } from './tables.ts'

/** One deployment of a config version, by reference: the revision (which never changes) and the API's lifecycle state then. */
export interface DeployedRevision {
  environment: string
  revision: string
  lifecycle: string
}

/**
 * What a config version holds, by reference: the settings and each deployment's revision. Written beside the
 * version's whole document, so that a node reads a new version of thousands of APIs without reading them all.
 */
export interface VersionOutline {
  settings: Record<string, unknown>
  deployments: DeployedRevision[]
}

/**
 * An API of a config version as the config reader takes it: `key` stands for the data (one key, one data, so a
 * key seen valid before is not checked again), `references` says whether the data holds a secret reference, and
 * `json` is the data as the version document writes it.
 */
export interface VersionApi {
  key: string
  data(): Record<string, unknown>
  json(): string
  references: boolean
}

interface Revision {
  config: Record<string, unknown>
  references: boolean
  /** The API as a version document writes it, for the lifecycle state it was last asked for. */
  written?: { lifecycle: string; json: string }
  /** The last load that asked for it. */
  load: number
}

/** Revisions asked for by none of this many loads are forgotten. */
const KEPT_LOADS = 4
/** Revisions read per query: well under either engine's limit on bound parameters. */
const READ_BATCH = 500

/**
 * The APIs of revisions, read from the store once each: a revision never changes, so a config version that changes
 * one API of thousands reads one revision. The store uses it to check and write versions, a node to read them.
 */
export class RevisionApis {
  readonly #revisions = new Map<string, Revision>()
  #loads = 0

  /**
   * Reads the revisions of `deployments` not held yet (in `db`, a transaction's when writing a version); false
   * when one is gone (deleted since the version was written: the caller reads the version's document instead).
   */
  async load(db: Kysely<Tables>, deployments: readonly DeployedRevision[]): Promise<boolean> {
    const load = ++this.#loads
    const missing = new Set<string>()
    for (const { revision } of deployments) {
      const held = this.#revisions.get(revision)
      if (held) held.load = load
      else missing.add(revision)
    }
    const ids = [...missing]
    for (let start = 0; start < ids.length; start += READ_BATCH) {
      const rows = await db.selectFrom('revisions').select(['id', 'config']).where('id', 'in', ids.slice(start, start + READ_BATCH)).execute()
      for (const row of rows) this.#revisions.set(row.id, { config: JSON.parse(row.config) as Record<string, unknown>, references: row.config.includes('${'), load })
    }
    for (const [id, revision] of this.#revisions) if (revision.load <= load - KEPT_LOADS) this.#revisions.delete(id)
    return ids.every((id) => this.#revisions.has(id))
  }

  /** A deployment's API (its revision loaded): the revision's config with the lifecycle state of the version. */
  api(deployment: DeployedRevision): VersionApi {
    const revision = this.#revisions.get(deployment.revision)
    if (!revision) throw new Error(`revision ${deployment.revision} was not loaded`)
    const data = () => ({ ...revision.config, lifecycle: deployment.lifecycle })
    return {
      key: `${deployment.revision}\n${deployment.lifecycle}`,
      data,
      json: () => {
        if (revision.written?.lifecycle !== deployment.lifecycle) revision.written = { lifecycle: deployment.lifecycle, json: JSON.stringify(data()) }
        return revision.written.json
      },
      references: revision.references,
    }
  }
}

/** An API of a version read whole (written before outlines): keyed by its JSON. */
export function apiOfDocument(api: Record<string, unknown>): VersionApi {
  const json = JSON.stringify(api)
  return { key: json, data: () => api, json: () => json, references: json.includes('${') }
}

/** JSON.stringify of `{ ...head, [key]: items }`, from the items' JSON: a version's APIs are megabytes to serialize again. */
export function jsonWithList(head: Record<string, unknown>, key: string, items: readonly string[]): string {
  const start = JSON.stringify(head)
  const list = `${JSON.stringify(key)}:[${items.join(',')}]`
  return start === '{}' ? `{${list}}` : `${start.slice(0, -1)},${list}}`
}
