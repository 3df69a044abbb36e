import { createHash, randomBytes, randomUUID } from 'node:crypto'
import { EventEmitter } from 'node:events'
import { sql, type Kysely, type Transaction } from 'kysely'
import { ConfigError, parseConfigData } from '../config/load.ts'
import { ConfigReader } from '../config/reader.ts'
import type { LifecycleState } from '../config/lifecycle.ts'
import { connect, parseStoreUrl, prepare, type Engine, type StoreLocation } from './connect.ts'
import { changedFields } from './difference.ts'
import { hashOfJson, type VersionDocument } from './document.ts'
import { apiOfDocument, jsonWithList, RevisionApis, type DeployedRevision, type VersionApi, type VersionOutline } from './revision-apis.ts'
import { Applications } from './applications.ts'
import { audit } from './audit.ts'
import { isUniqueViolation, StoreError, type FieldIssue } from './errors.ts'
import { availableActions, normalizeState, takeAction } from './lifecycle-actions.ts'
import type { Tables } from './tables.ts'
import { keepStoredSecrets } from './write-only-secrets.ts'

/** The channel whose notifications carry only a config version number. */
export const CHANNEL = 'portico_config'

/** The scopes an admin token may carry, after WSO2's apim:api_view, apim:api_create, apim:api_publish, ... */
export const SCOPES = ['view', 'create', 'publish', 'manage', 'subscribe'] as const
export type Scope = (typeof SCOPES)[number]

export interface StoredApi {
  id: string
  name: string
  version: string
  context: string
  lifecycle: LifecycleState
  /** The API as a config file writes it, lifecycle included. */
  config: Record<string, unknown>
  etag: number
  createdAt: string
  updatedAt: string
}

/** WSO2's checklist items of Publish. */
export interface Checklist {
  /** Deprecate the older PUBLISHED versions of the same API. */
  deprecateOldVersions?: boolean
  /** Leave out the subscriptions of older versions (otherwise they are copied to the version published). */
  requireResubscription?: boolean
}

export interface ApiPage {
  count: number
  list: StoredApi[]
  pagination: { offset: number; limit: number; total: number }
}

type Tx = Transaction<Tables>

const now = () => new Date().toISOString()
const tokenHash = (token: string) => createHash('sha256').update(token).digest('hex')

/**
 * The config store: APIs, their lifecycle and history, revisions, deployments, the config versions nodes serve,
 * what each node applied, admin tokens and the audit log. Every change runs in one transaction with its audit
 * entry and, when it changes what nodes serve, the new config version.
 */
export class ConfigStore {
  readonly engine: Engine
  readonly location: StoreLocation
  readonly db: Kysely<Tables>
  /** Emits `version` (a number) after a commit that made one, for nodes in this process. */
  readonly changes = new EventEmitter()
  readonly applications: Applications

  private constructor(location: StoreLocation, db: Kysely<Tables>) {
    this.location = location
    this.engine = location.engine
    this.db = db
    this.applications = new Applications(db)
  }

  /** Opens the store and brings its tables up to date. */
  static async open(url: string): Promise<ConfigStore> {
    const store = ConfigStore.create(url)
    await store.prepare()
    return store
  }

  /** The store without touching its database yet (a node may start while it is down); `prepare` before use. */
  static create(url: string): ConfigStore {
    const location = parseStoreUrl(url)
    return new ConfigStore(location, connect(location))
  }

  /** Creates the schema when needed and runs the migrations; throws while the database is unreachable. */
  async prepare(): Promise<void> {
    await prepare(this.location, this.db)
  }

  async close(): Promise<void> {
    await this.db.destroy()
  }

  // ---- APIs ----

  async listApis(options: { query?: string; limit?: number; offset?: number } = {}): Promise<ApiPage> {
    const limit = Math.min(Math.max(options.limit ?? 25, 1), 500)
    const offset = Math.max(options.offset ?? 0, 0)
    let query = this.db.selectFrom('apis')
    const text = options.query?.trim()
    if (text) {
      // WSO2's search syntax in small: `name:Pizza`, `context:/pizza`, `version:1.0`, `lifecycle:PUBLISHED` or words.
      const [, field, value] = /^(name|context|version|lifecycle):(.*)$/i.exec(text) ?? [undefined, undefined, text]
      const like = `%${value!.toLowerCase()}%`
      if (field) query = query.where(sql`lower(${sql.ref(field.toLowerCase())})`, 'like', like)
      else query = query.where((eb) => eb.or([eb(sql`lower(name)`, 'like', like), eb(sql`lower(context)`, 'like', like)]))
    }
    const total = Number((await query.select((eb) => eb.fn.countAll().as('n')).executeTakeFirstOrThrow()).n)
    const rows = await query.selectAll().orderBy('name').orderBy('version').limit(limit).offset(offset).execute()
    const list = rows.map(toApi)
    return { count: list.length, list, pagination: { offset, limit, total } }
  }

  /** The environments each of `ids` is deployed to (an API deployed nowhere is left out). */
  async deployedEnvironments(ids: readonly string[]): Promise<Map<string, string[]>> {
    const deployed = new Map<string, string[]>()
    if (ids.length === 0) return deployed
    const rows = await this.db.selectFrom('deployments').select(['api_id', 'environment']).where('api_id', 'in', ids).orderBy('environment').execute()
    for (const row of rows) deployed.set(row.api_id, [...(deployed.get(row.api_id) ?? []), row.environment])
    return deployed
  }

  async getApi(id: string): Promise<StoredApi> {
    const row = await this.db.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new StoreError('not-found', `no API with id ${id}`)
    return toApi(row)
  }

  /** Creates an API from its config (as the file writes one); it starts CREATED, as in WSO2. */
  async createApi(input: unknown, actor: string): Promise<StoredApi> {
    refuseMasked(keepStoredSecrets(input, undefined).masked)
    const config = checkApi(input, 'CREATED')
    return this.#transaction(async (tx) => {
      const id = randomUUID()
      const at = now()
      const api = { id, name: String(config.name), version: String(config.version), context: String(config.context), lifecycle: 'CREATED', config: JSON.stringify(stripLifecycle(config)), etag: 1, created_at: at, updated_at: at }
      const clash = await tx.selectFrom('apis').select('id').where('name', '=', api.name).where('version', '=', api.version).executeTakeFirst()
      if (clash) throw new StoreError('conflict', `API ${api.name} ${api.version} exists already (id ${clash.id})`)
      await tx.insertInto('apis').values(api).execute()
      await tx.insertInto('lifecycle_history').values({ api_id: id, from_state: null, to_state: 'CREATED', action: 'Create', actor, at }).execute()
      await audit(tx, actor, 'api.create', `api:${id}`, undefined, config)
      if (config.defaultVersion === true) await clearOtherDefaults(tx, id, api.name, actor)
      return toApi(api)
    })
  }

  /**
   * Replaces an API's config. `ifMatch` (the ETag read before) makes the change conditional: a stale one fails
   * with `stale`, so of two edits made from the same read, one wins and one is told.
   */
  async updateApi(id: string, input: unknown, actor: string, ifMatch?: number): Promise<StoredApi> {
    return this.#transaction(async (tx) => {
      const before = await lockApi(tx, id)
      if (ifMatch !== undefined && ifMatch !== before.etag) throw new StoreError('stale', `the API changed since it was read (ETag "${before.etag}", If-Match "${ifMatch}")`)
      const merged = keepStoredSecrets(input, stripLifecycle(before.config))
      refuseMasked(merged.masked)
      const config = checkApi(merged.value, before.lifecycle)
      const etag = before.etag + 1
      const at = now()
      const updated = await tx
        .updateTable('apis')
        .set({ name: String(config.name), version: String(config.version), context: String(config.context), config: JSON.stringify(stripLifecycle(config)), etag, updated_at: at })
        .where('id', '=', id)
        .where('etag', '=', before.etag)
        .executeTakeFirst()
      if (Number(updated.numUpdatedRows) !== 1) throw new StoreError('stale', 'the API changed while this edit was made')
      await audit(tx, actor, 'api.update', `api:${id}`, before.config, config)
      if (config.defaultVersion === true) await clearOtherDefaults(tx, id, String(config.name), actor)
      return { ...before, name: String(config.name), version: String(config.version), context: String(config.context), config: { ...stripLifecycle(config), lifecycle: before.lifecycle }, etag, updatedAt: at }
    })
  }

  /** Deletes an API; one that is deployed only with `force`, which also takes it off every node. */
  async deleteApi(id: string, actor: string, force = false): Promise<void> {
    await this.#transaction(async (tx) => {
      const before = await lockApi(tx, id)
      const deployed = await tx.selectFrom('deployments').select('environment').where('api_id', '=', id).execute()
      if (deployed.length > 0 && !force) {
        throw new StoreError('conflict', `the API is deployed to ${deployed.map((row) => row.environment).join(', ')}: undeploy it first, or delete with ?force=true`)
      }
      await tx.deleteFrom('deployments').where('api_id', '=', id).execute()
      await tx.deleteFrom('subscriptions').where('api_id', '=', id).execute()
      await tx.deleteFrom('lifecycle_history').where('api_id', '=', id).execute()
      await tx.deleteFrom('revisions').where('api_id', '=', id).execute()
      await tx.deleteFrom('apis').where('id', '=', id).execute()
      await audit(tx, actor, 'api.delete', `api:${id}`, before.config, undefined)
      if (deployed.length > 0) await this.#commitVersion(tx, `delete ${before.name} ${before.version}`, actor)
    })
  }

  /** A new version of an API, copied from an existing one, starting CREATED (WSO2's "Create New Version"). */
  async newVersion(id: string, version: string, actor: string, defaultVersion?: boolean): Promise<StoredApi> {
    const source = await this.getApi(id)
    const config = { ...stripLifecycle(source.config), version, ...(defaultVersion === undefined ? {} : { defaultVersion }) }
    return this.createApi(config, actor)
  }

  // ---- lifecycle ----

  async lifecycle(id: string): Promise<{ state: LifecycleState; availableTransitions: { event: string; targetState: LifecycleState }[] }> {
    const api = await this.getApi(id)
    return { state: api.lifecycle, availableTransitions: availableActions(api.lifecycle).map((entry) => ({ event: entry.action, targetState: entry.target })) }
  }

  /**
   * Takes a lifecycle action (WSO2's names). A deployed API's new state reaches the nodes as a new config version
   * in the same transaction, so a RETIRED API stays retired on every node and across restarts.
   */
  async changeLifecycle(id: string, action: string, actor: string, ifMatch?: number, checklist: Checklist = {}): Promise<StoredApi> {
    return this.#transaction(async (tx) => {
      const before = await lockApi(tx, id)
      if (ifMatch !== undefined && ifMatch !== before.etag) throw new StoreError('stale', `the API changed since it was read (ETag "${before.etag}", If-Match "${ifMatch}")`)
      const step = takeAction(before.lifecycle, action)
      if ('problem' in step) throw new StoreError('conflict', step.problem)
      const target = step.target
      // Publishing checks the API as a live one: a PUBLISHED API with no endpoint would answer only 404s.
      const config = checkApi({ ...stripLifecycle(before.config), lifecycle: target }, target)
      const at = now()
      const etag = before.etag + 1
      const updated = await tx.updateTable('apis').set({ lifecycle: target, etag, updated_at: at }).where('id', '=', id).where('etag', '=', before.etag).executeTakeFirst()
      if (Number(updated.numUpdatedRows) !== 1) throw new StoreError('stale', 'the API changed while this action was taken')
      await tx.insertInto('lifecycle_history').values({ api_id: id, from_state: before.lifecycle, to_state: target, action: step.action, actor, at }).execute()
      await audit(tx, actor, 'api.lifecycle', `api:${id}`, { lifecycle: before.lifecycle }, { lifecycle: target, action: step.action })
      const touched = [id]
      if (step.action === 'Publish') {
        const others = await tx.selectFrom('apis').selectAll().where('name', '=', before.name).where('id', '!=', id).where('created_at', '<=', before.createdAt).execute()
        if (checklist.deprecateOldVersions) {
          for (const other of others.filter((row) => row.lifecycle === 'PUBLISHED')) {
            await tx.updateTable('apis').set({ lifecycle: 'DEPRECATED', etag: other.etag + 1, updated_at: at }).where('id', '=', other.id).execute()
            await tx.insertInto('lifecycle_history').values({ api_id: other.id, from_state: 'PUBLISHED', to_state: 'DEPRECATED', action: 'Deprecate', actor, at }).execute()
            await audit(tx, actor, 'api.lifecycle', `api:${other.id}`, { lifecycle: 'PUBLISHED' }, { lifecycle: 'DEPRECATED', action: 'Deprecate', because: `publish of ${before.version}` })
            touched.push(other.id)
          }
        }
        // Without "Require re-subscription", applications subscribed to an older version are subscribed to this one.
        if (!checklist.requireResubscription && others.length > 0) {
          const subscriptions = await tx.selectFrom('subscriptions').selectAll().where('api_id', 'in', others.map((row) => row.id)).orderBy('created_at').execute()
          const have = new Set((await tx.selectFrom('subscriptions').select('application_id').where('api_id', '=', id).execute()).map((row) => row.application_id))
          for (const subscription of subscriptions) {
            if (have.has(subscription.application_id)) continue
            have.add(subscription.application_id)
            await tx.insertInto('subscriptions').values({ ...subscription, id: randomUUID(), api_id: id, created_at: at }).execute()
          }
        }
      }
      const deployed = await tx.selectFrom('deployments').select('api_id').where('api_id', 'in', touched).executeTakeFirst()
      if (deployed) await this.#commitVersion(tx, `${step.action} ${before.name} ${before.version}`, actor)
      return { ...before, lifecycle: target, config, etag, updatedAt: at }
    })
  }

  async lifecycleHistory(id: string): Promise<{ previousState: string | null; postState: string; action: string; user: string; updatedTime: string }[]> {
    await this.getApi(id)
    const rows = await this.db.selectFrom('lifecycle_history').selectAll().where('api_id', '=', id).orderBy('id').execute()
    return rows.map((row) => ({ previousState: row.from_state, postState: row.to_state, action: row.action, user: row.actor, updatedTime: row.at }))
  }

  // ---- revisions and deployments ----

  /** An immutable snapshot of the API's current config (lifecycle apart: that is the API's, not the revision's). */
  async createRevision(id: string, actor: string, description?: string): Promise<{ id: string; number: number; createdAt: string }> {
    return this.#transaction(async (tx) => {
      const api = await lockApi(tx, id)
      const last = await tx.selectFrom('revisions').select((eb) => eb.fn.max('number').as('n')).where('api_id', '=', id).executeTakeFirst()
      const number = Number(last?.n ?? 0) + 1
      const revision = { id: randomUUID(), api_id: id, number, config: JSON.stringify(stripLifecycle(api.config)), description: description ?? null, created_by: actor, created_at: now() }
      await tx.insertInto('revisions').values(revision).execute()
      await audit(tx, actor, 'revision.create', `api:${id}`, undefined, { revision: revision.id, number })
      return { id: revision.id, number, createdAt: revision.created_at }
    })
  }

  async listRevisions(id: string): Promise<{ id: string; number: number; description: string | null; createdBy: string; createdAt: string; deployments: string[] }[]> {
    await this.getApi(id)
    const rows = await this.db.selectFrom('revisions').selectAll().where('api_id', '=', id).orderBy('number').execute()
    const deployments = await this.db.selectFrom('deployments').selectAll().where('api_id', '=', id).execute()
    return rows.map((row) => ({
      id: row.id,
      number: row.number,
      description: row.description,
      createdBy: row.created_by,
      createdAt: row.created_at,
      deployments: deployments.filter((deployment) => deployment.revision_id === row.id).map((deployment) => deployment.environment),
    }))
  }

  async getRevision(id: string, revisionId: string): Promise<{ id: string; number: number; config: Record<string, unknown> }> {
    const row = await this.db.selectFrom('revisions').selectAll().where('api_id', '=', id).where('id', '=', revisionId).executeTakeFirst()
    if (!row) throw new StoreError('not-found', `API ${id} has no revision ${revisionId}`)
    return { id: row.id, number: row.number, config: JSON.parse(row.config) }
  }

  /**
   * Deploys a revision to a gateway environment (a label nodes serve): the one change that moves traffic. The new
   * config version is checked whole first; one that does not validate is refused and nothing changes.
   */
  async deploy(id: string, revisionId: string, environment: string, actor: string): Promise<{ version: number }> {
    if (!/^[A-Za-z0-9._-]{1,64}$/.test(environment)) throw new StoreError('invalid', 'the environment is invalid', [{ path: 'environment', message: 'must be 1-64 letters, digits or "._-"' }])
    return this.#transaction(async (tx) => {
      const api = await lockApi(tx, id)
      const revision = await tx.selectFrom('revisions').select('id').where('api_id', '=', id).where('id', '=', revisionId).executeTakeFirst()
      if (!revision) throw new StoreError('not-found', `API ${id} has no revision ${revisionId}`)
      const before = await tx.selectFrom('deployments').selectAll().where('api_id', '=', id).where('environment', '=', environment).executeTakeFirst()
      const row = { api_id: id, environment, revision_id: revisionId, deployed_by: actor, deployed_at: now() }
      if (before) await tx.updateTable('deployments').set(row).where('api_id', '=', id).where('environment', '=', environment).execute()
      else await tx.insertInto('deployments').values(row).execute()
      await audit(tx, actor, 'api.deploy', `api:${id}`, before ? { revision: before.revision_id, environment } : undefined, { revision: revisionId, environment })
      return { version: await this.#commitVersion(tx, `deploy ${api.name} ${api.version} to ${environment}`, actor) }
    })
  }

  async undeploy(id: string, environment: string, actor: string): Promise<{ version: number }> {
    return this.#transaction(async (tx) => {
      const api = await lockApi(tx, id)
      const removed = await tx.deleteFrom('deployments').where('api_id', '=', id).where('environment', '=', environment).executeTakeFirst()
      if (Number(removed.numDeletedRows) === 0) throw new StoreError('not-found', `API ${id} is not deployed to ${environment}`)
      await audit(tx, actor, 'api.undeploy', `api:${id}`, { environment }, undefined)
      return { version: await this.#commitVersion(tx, `undeploy ${api.name} ${api.version} from ${environment}`, actor) }
    })
  }

  /**
   * Where an API is deployed and how far its nodes are: `deployed` when every node that reported serves the latest
   * config version, `failed` when every node failed to apply it, `partially deployed` when some serve it, and
   * `pending` while none has reported it yet.
   */
  async deployments(id: string): Promise<{ environment: string; revisionId: string; revision: number; deployedAt: string; deployedBy: string; status: string }[]> {
    await this.getApi(id)
    const rows = await this.db.selectFrom('deployments').innerJoin('revisions', 'revisions.id', 'deployments.revision_id').selectAll('deployments').select('revisions.number').where('deployments.api_id', '=', id).execute()
    const nodes = await this.nodes()
    const latest = await this.latestVersionNumber()
    return rows.map((row) => ({
      environment: row.environment,
      revisionId: row.revision_id,
      revision: row.number,
      deployedAt: row.deployed_at,
      deployedBy: row.deployed_by,
      status: deploymentStatus(nodes, latest),
    }))
  }

  // ---- config versions and nodes ----

  /**
   * What `environment`'s last config was, so that a change validates again only the APIs it changed. A node in
   * this process reads its versions with the same reader: what the store checked, the node does not check again.
   */
  readerFor(environment: string): ConfigReader {
    let reader = this.#readers.get(environment)
    if (!reader) this.#readers.set(environment, (reader = new ConfigReader()))
    return reader
  }

  /** The number of the latest config version (0 before the first): without reading it. `db`: a transaction's. */
  async latestVersionNumber(db: Kysely<Tables> = this.db): Promise<number> {
    const last = await db.selectFrom('config_versions').select((eb) => eb.fn.max('version').as('v')).executeTakeFirst()
    return Number(last?.v ?? 0)
  }

  async recordApplied(nodeId: string, version: number, hash: string, error?: string): Promise<void> {
    const row = { node_id: nodeId, version, hash, error: error ?? null, applied_at: now() }
    await this.db
      .insertInto('node_status')
      .values(row)
      .onConflict((conflict) => conflict.column('node_id').doUpdateSet({ version, hash, error: row.error, applied_at: row.applied_at }))
      .execute()
  }

  async nodes(): Promise<{ nodeId: string; version: number; hash: string; error: string | null; appliedAt: string }[]> {
    const rows = await this.db.selectFrom('node_status').selectAll().orderBy('node_id').execute()
    return rows.map((row) => ({ nodeId: row.node_id, version: row.version, hash: row.hash, error: row.error, appliedAt: row.applied_at }))
  }

  // ---- the file: apply and export ----

  /** The store as a config file: settings, then every API with its lifecycle, in name and version order. */
  async exportDocument(): Promise<Record<string, unknown>> {
    const settings = await this.#settings(this.db)
    const rows = await this.db.selectFrom('apis').selectAll().orderBy('name').orderBy('version').execute()
    return { ...settings, apis: rows.map((row) => toApi(row).config) }
  }

  /**
   * Makes the store hold what `document` (a config file's data, secrets as references) holds, as one new config
   * version: APIs are matched by name and version; each that changed gets a revision deployed to `environment`;
   * lifecycle changes follow WSO2's transitions. Returns what changed; `dryRun` changes nothing.
   */
  async apply(document: Record<string, unknown>, actor: string, options: { dryRun?: boolean; environment?: string } = {}): Promise<{ changes: string[]; version?: number }> {
    try {
      parseConfigData(document, 'file')
    } catch (error) {
      if (error instanceof ConfigError) throw new StoreError('invalid', 'the file is invalid', error.issues.map((issue) => ({ path: issue.path, message: issue.message })))
      throw error
    }
    const environment = options.environment ?? 'default'
    const { apis: wanted = [], ...settings } = document as { apis?: Record<string, unknown>[] }
    const run = async (tx: Tx) => {
      const changes: string[] = []
      const current = await this.#settings(tx)
      if (JSON.stringify(current) !== JSON.stringify(settings)) {
        changes.push(`~ settings: ${changedFields(current, settings).join(', ')}`)
        if (!options.dryRun) await setSettings(tx, settings)
      }
      const rows = await tx.selectFrom('apis').selectAll().execute()
      const byKey = new Map(rows.map((row) => [`${row.name}\u0000${row.version}`, toApi(row)]))
      const seen = new Set<string>()
      const at = now()
      for (const [index, entry] of wanted.entries()) {
        const key = `${String(entry.name)}\u0000${String(entry.version)}`
        seen.add(key)
        const lifecycle = normalizeState(String(entry.lifecycle ?? 'PUBLISHED'))!
        const config = stripLifecycle(entry)
        const existing = byKey.get(key)
        const label = `${String(entry.name)} ${String(entry.version)}`
        if (!existing) {
          changes.push(`+ api ${label} (${lifecycle})`)
          if (options.dryRun) continue
          const id = randomUUID()
          await tx.insertInto('apis').values({ id, name: String(entry.name), version: String(entry.version), context: String(entry.context), lifecycle, config: JSON.stringify(config), etag: 1, created_at: at, updated_at: at }).execute()
          await tx.insertInto('lifecycle_history').values({ api_id: id, from_state: null, to_state: lifecycle, action: 'Apply', actor, at }).execute()
          await audit(tx, actor, 'api.apply', `api:${id}`, undefined, entry)
          await this.#deployCurrent(tx, id, config, environment, actor)
          continue
        }
        const configChanged = JSON.stringify(stripLifecycle(existing.config)) !== JSON.stringify(config)
        const lifecycleChanged = existing.lifecycle !== lifecycle
        if (lifecycleChanged && !availableActions(existing.lifecycle).some((step) => step.target === lifecycle)) {
          const offered = availableActions(existing.lifecycle).map((step) => step.target)
          throw new StoreError('invalid', 'the file asks for a lifecycle change that is not allowed', [
            { path: `apis[${index}].lifecycle`, message: `cannot change from ${existing.lifecycle} to ${lifecycle}; from ${existing.lifecycle} it may become ${offered.length ? offered.join(' or ') : 'nothing (final state)'}` },
          ])
        }
        if (!configChanged && !lifecycleChanged) continue
        const fields = changedFields(stripLifecycle(existing.config), config)
        changes.push(`~ api ${label}${lifecycleChanged ? ` (${existing.lifecycle} → ${lifecycle})` : ''}${fields.length ? `: ${fields.join(', ')}` : ''}`)
        if (options.dryRun) continue
        await tx.updateTable('apis').set({ context: String(entry.context), lifecycle, config: JSON.stringify(config), etag: existing.etag + 1, updated_at: at }).where('id', '=', existing.id).execute()
        if (lifecycleChanged) {
          const action = availableActions(existing.lifecycle).find((step) => step.target === lifecycle)!.action
          await tx.insertInto('lifecycle_history').values({ api_id: existing.id, from_state: existing.lifecycle, to_state: lifecycle, action, actor, at }).execute()
        }
        await audit(tx, actor, 'api.apply', `api:${existing.id}`, existing.config, entry)
        if (configChanged) await this.#deployCurrent(tx, existing.id, config, environment, actor)
      }
      for (const [key, existing] of byKey) {
        if (seen.has(key)) continue
        changes.push(`- api ${existing.name} ${existing.version}`)
        if (options.dryRun) continue
        await tx.deleteFrom('deployments').where('api_id', '=', existing.id).execute()
        await tx.deleteFrom('subscriptions').where('api_id', '=', existing.id).execute()
        await tx.deleteFrom('lifecycle_history').where('api_id', '=', existing.id).execute()
        await tx.deleteFrom('revisions').where('api_id', '=', existing.id).execute()
        await tx.deleteFrom('apis').where('id', '=', existing.id).execute()
        await audit(tx, actor, 'api.delete', `api:${existing.id}`, existing.config, undefined)
      }
      if (options.dryRun || changes.length === 0) return { changes }
      return { changes, version: await this.#commitVersion(tx, 'apply', actor) }
    }
    return this.#transaction(run)
  }

  async #deployCurrent(tx: Tx, apiId: string, config: Record<string, unknown>, environment: string, actor: string): Promise<void> {
    const last = await tx.selectFrom('revisions').select((eb) => eb.fn.max('number').as('n')).where('api_id', '=', apiId).executeTakeFirst()
    const revision = { id: randomUUID(), api_id: apiId, number: Number(last?.n ?? 0) + 1, config: JSON.stringify(config), description: 'apply', created_by: actor, created_at: now() }
    await tx.insertInto('revisions').values(revision).execute()
    const row = { api_id: apiId, environment, revision_id: revision.id, deployed_by: actor, deployed_at: revision.created_at }
    await tx.deleteFrom('deployments').where('api_id', '=', apiId).where('environment', '=', environment).execute()
    await tx.insertInto('deployments').values(row).execute()
  }

  // ---- admin tokens and audit ----

  /** Creates a token; its text is returned this once and stored only as a hash. */
  async createToken(name: string, scopes: readonly Scope[], actor: string): Promise<{ id: string; token: string; scopes: readonly Scope[] }> {
    const bad = scopes.filter((scope) => !(SCOPES as readonly string[]).includes(scope))
    if (bad.length > 0 || scopes.length === 0) throw new StoreError('invalid', 'the token is invalid', [{ path: 'scopes', message: `must be one or more of ${SCOPES.join(', ')}` }])
    const token = `portico_${randomBytes(32).toString('base64url')}`
    const id = randomUUID()
    await this.#transaction(async (tx) => {
      await tx.insertInto('admin_tokens').values({ id, name, hash: tokenHash(token), scopes: scopes.join(' '), created_at: now() }).execute()
      await audit(tx, actor, 'token.create', `token:${id}`, undefined, { name, scopes })
    })
    return { id, token, scopes }
  }

  /** On a store without tokens, creates one with every scope and returns its text (to print once). */
  async firstToken(): Promise<string | undefined> {
    const any = await this.db.selectFrom('admin_tokens').select('id').limit(1).executeTakeFirst()
    if (any) return undefined
    return (await this.createToken('initial admin', SCOPES, 'portico')).token
  }

  async verifyToken(token: string): Promise<{ id: string; name: string; scopes: Scope[] } | undefined> {
    const row = await this.db.selectFrom('admin_tokens').selectAll().where('hash', '=', tokenHash(token)).executeTakeFirst()
    return row ? { id: row.id, name: row.name, scopes: row.scopes.split(' ') as Scope[] } : undefined
  }

  async listTokens(): Promise<{ id: string; name: string; scopes: string[]; createdAt: string }[]> {
    const rows = await this.db.selectFrom('admin_tokens').select(['id', 'name', 'scopes', 'created_at']).orderBy('created_at').execute()
    return rows.map((row) => ({ id: row.id, name: row.name, scopes: row.scopes.split(' '), createdAt: row.created_at }))
  }

  async deleteToken(id: string, actor: string): Promise<void> {
    await this.#transaction(async (tx) => {
      const removed = await tx.deleteFrom('admin_tokens').where('id', '=', id).executeTakeFirst()
      if (Number(removed.numDeletedRows) === 0) throw new StoreError('not-found', `no token with id ${id}`)
      await audit(tx, actor, 'token.delete', `token:${id}`, undefined, undefined)
    })
  }

  async auditLog(options: { limit?: number; offset?: number } = {}): Promise<{ id: number; at: string; actor: string; action: string; target: string; before: unknown; after: unknown }[]> {
    const rows = await this.db.selectFrom('audit_log').selectAll().orderBy('id', 'desc').limit(Math.min(options.limit ?? 100, 1000)).offset(options.offset ?? 0).execute()
    return rows.map((row) => ({ id: row.id, at: row.at, actor: row.actor, action: row.action, target: row.target, before: row.before && JSON.parse(row.before), after: row.after && JSON.parse(row.after) }))
  }

  // ---- internals ----

  async #settings(db: Kysely<Tables>): Promise<Record<string, unknown>> {
    const row = await db.selectFrom('settings').select('value').where('key', '=', 'gateway').executeTakeFirst()
    return row ? JSON.parse(row.value) : {}
  }

  /**
   * The latest config version if it is newer than `after`, as a node of `environment` serves it: the settings and
   * the environment's APIs. A version's APIs are read from their revisions, each once (see RevisionApis); a version
   * written before outlines, or one whose revisions have since been deleted, is read from its whole document.
   */
  async versionFor(environment: string, after = 0): Promise<{ version: number; hash: string; settings: Record<string, unknown>; apis: VersionApi[] } | undefined> {
    const row = await this.db.selectFrom('config_versions').select(['version', 'hash', 'outline']).where('version', '>', after).orderBy('version', 'desc').limit(1).executeTakeFirst()
    if (!row) return undefined
    if (row.outline !== null) {
      const outline = JSON.parse(row.outline) as VersionOutline
      const deployments = outline.deployments.filter((deployment) => deployment.environment === environment)
      if (await this.#revisions.load(this.db, deployments)) return { version: row.version, hash: row.hash, settings: outline.settings, apis: deployments.map((deployment) => this.#revisions.api(deployment)) }
    }
    const whole = await this.db.selectFrom('config_versions').select('document').where('version', '=', row.version).executeTakeFirstOrThrow()
    const document = JSON.parse(whole.document) as VersionDocument
    return { version: row.version, hash: row.hash, settings: document.settings, apis: document.deployments.filter((deployment) => deployment.environment === environment).map((deployment) => apiOfDocument(deployment.api)) }
  }

  /** Writes the next config version from what is deployed now; on PostgreSQL the notification leaves at commit. */
  async #commitVersion(tx: Tx, reason: string, actor: string): Promise<number> {
    const settings = await this.#settings(tx)
    const rows = await tx.selectFrom('deployments').innerJoin('apis', 'apis.id', 'deployments.api_id').select(['deployments.environment', 'deployments.revision_id', 'apis.lifecycle', 'apis.name', 'apis.version']).execute()
    // Sorted here, by code unit: the same order on both engines (PostgreSQL's collations differ from SQLite's), and
    // a fraction of the time PostgreSQL takes to sort thousands of rows by a locale.
    rows.sort((a, b) => compare(a.environment, b.environment) || compare(a.name, b.name) || compare(a.version, b.version))
    const deployments: DeployedRevision[] = rows.map((row) => ({ environment: row.environment, revision: row.revision_id, lifecycle: row.lifecycle }))
    // A deployment's revision cannot be deleted, and the transaction sees its own new ones.
    if (!(await this.#revisions.load(tx, deployments))) throw new Error('a deployed revision is missing from the store')
    const apis = deployments.map((deployment) => this.#revisions.api(deployment))
    for (const environment of new Set(deployments.map((deployment) => deployment.environment))) {
      try {
        this.readerFor(environment).parseKeyed(settings, apis.filter((_api, index) => deployments[index]!.environment === environment), environment)
      } catch (error) {
        if (!(error instanceof ConfigError)) throw error
        throw new StoreError('invalid', `the change would leave environment ${environment} with an invalid config; nothing was changed`, error.issues.map((issue) => ({ path: issue.path, message: issue.message })))
      }
    }
    const version = (await this.latestVersionNumber(tx)) + 1
    // The whole document (VersionDocument) from each API's JSON, serialized once per revision and lifecycle state.
    const json = jsonWithList({ settings }, 'deployments', deployments.map((deployment, index) => `{"environment":${JSON.stringify(deployment.environment)},"api":${apis[index]!.json()}}`))
    const outline = JSON.stringify({ settings, deployments } satisfies VersionOutline)
    // Of the outline, which names the same content (a revision never changes) in a tenth of the bytes.
    await tx.insertInto('config_versions').values({ version, document: json, outline, hash: hashOfJson(outline), reason, created_by: actor, created_at: now() }).execute()
    if (this.engine === 'postgres') await sql`select pg_notify(${CHANNEL}, ${String(version)})`.execute(tx)
    this.#versionsOf.get(tx)?.push(version)
    return version
  }

  /** Config versions each open transaction made, announced in this process once it commits. */
  readonly #versionsOf = new WeakMap<Tx, number[]>()
  /** By environment: see readerFor. */
  readonly #readers = new Map<string, ConfigReader>()
  /** The APIs of the revisions recent versions deployed: versions are written and read without reading every one. */
  readonly #revisions = new RevisionApis()

  async #transaction<T>(work: (tx: Tx) => Promise<T>): Promise<T> {
    const versions: number[] = []
    try {
      const result = await this.db.transaction().execute((tx) => {
        this.#versionsOf.set(tx, versions)
        return work(tx)
      })
      for (const version of versions) this.changes.emit('version', version)
      return result
    } catch (error) {
      if (isUniqueViolation(error)) throw new StoreError('conflict', 'another change was made at the same time; read again and retry')
      throw error
    }
  }
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

/**
 * One default version per API name, as in WSO2: making a version the default takes it from the others (their
 * working copies; a deployed revision keeps what it had until the next deployment).
 */
async function clearOtherDefaults(tx: Tx, id: string, name: string, actor: string): Promise<void> {
  const others = await tx.selectFrom('apis').selectAll().where('name', '=', name).where('id', '!=', id).execute()
  for (const row of others) {
    const config = JSON.parse(row.config) as Record<string, unknown>
    if (config.defaultVersion !== true) continue
    await tx.updateTable('apis').set({ config: JSON.stringify({ ...config, defaultVersion: false }), etag: row.etag + 1, updated_at: now() }).where('id', '=', row.id).execute()
    await audit(tx, actor, 'api.default-version', `api:${row.id}`, { defaultVersion: true }, { defaultVersion: false, now: id })
  }
}

async function lockApi(tx: Tx, id: string): Promise<StoredApi> {
  const row = await tx.selectFrom('apis').selectAll().where('id', '=', id).executeTakeFirst()
  if (!row) throw new StoreError('not-found', `no API with id ${id}`)
  return toApi(row)
}

async function setSettings(tx: Tx, settings: Record<string, unknown>): Promise<void> {
  const value = JSON.stringify(settings)
  await tx.insertInto('settings').values({ key: 'gateway', value }).onConflict((conflict) => conflict.column('key').doUpdateSet({ value })).execute()
}


function toApi(row: Tables['apis']): StoredApi {
  const lifecycle = row.lifecycle as LifecycleState
  return {
    id: row.id,
    name: row.name,
    version: row.version,
    context: row.context,
    lifecycle,
    config: { ...JSON.parse(row.config), lifecycle },
    etag: row.etag,
    createdAt: row.created_at,
    updatedAt: row.updated_at,
  }
}

function stripLifecycle(config: Record<string, unknown>): Record<string, unknown> {
  const { lifecycle: _lifecycle, ...rest } = config
  return rest
}

/**
 * A secret that looks masked (`****`) is never stored, on create as on edit: saved, it would replace a real
 * password with the mask, or hide that a client sent a mask it took for the value.
 */
function refuseMasked(masked: (string | number)[][]): void {
  if (masked.length === 0) return
  const issues = masked.map((path) => ({ path: pathText(path), message: 'looks like a masked value: send the real secret, or leave the field out to keep the stored one' }))
  throw new StoreError('invalid', 'the API has invalid fields', issues)
}

function pathText(path: (string | number)[]): string {
  return path.map((key, index) => (typeof key === 'number' ? `[${key}]` : index === 0 ? key : `.${key}`)).join('')
}

/**
 * Checks one API as the config file's schema would, as the only API of a file, with paths relative to the API
 * (`endpoints.production.url`). Its lifecycle is the store's: a request cannot set it except by an action.
 */
function checkApi(input: unknown, lifecycle: LifecycleState): Record<string, unknown> {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) throw new StoreError('invalid', 'the API must be a JSON object', [{ path: '', message: 'must be an object' }])
  const given = (input as Record<string, unknown>).lifecycle
  if (given !== undefined && normalizeState(String(given)) !== lifecycle) {
    throw new StoreError('invalid', 'the API has invalid fields', [{ path: 'lifecycle', message: `is ${lifecycle}; change it with a lifecycle action (POST .../lifecycle?action=...)` }])
  }
  const config = { ...(input as Record<string, unknown>), lifecycle }
  try {
    parseConfigData({ apis: [config] }, 'api')
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error
    const issues: FieldIssue[] = error.issues.map((issue) => ({ path: issue.path.replace(/^apis\[0\]\.?/, ''), message: issue.message }))
    throw new StoreError('invalid', 'the API has invalid fields', issues)
  }
  return config
}

function deploymentStatus(nodes: { version: number; error: string | null }[], latest: number): string {
  const applied = nodes.filter((node) => node.version >= latest && node.error === null)
  if (nodes.length > 0 && applied.length === nodes.length) return 'deployed'
  if (nodes.length > 0 && nodes.every((node) => node.version >= latest && node.error !== null)) return 'failed'
  return applied.length === 0 ? 'pending' : 'partially deployed'
}
