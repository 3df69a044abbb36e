import { createHash, randomBytes, randomUUID } from 'node:crypto'
import type { Kysely } from 'kysely'
import { audit } from './audit.ts'
import { isUniqueViolation, StoreError } from './errors.ts'
import type { Tables } from './tables.ts'

export const KEY_TYPES = ['PRODUCTION', 'SANDBOX'] as const
export type KeyType = (typeof KEY_TYPES)[number]

/** A throttling tier by name (Gold, Silver, Unlimited, ...); the throttling module gives the names their limits. */
const TIER = /^[A-Za-z0-9_-]{1,64}$/

export interface Application {
  id: string
  name: string
  owner: string
  throttlingPolicy: string
  description: string | null
  createdAt: string
}

const now = () => new Date().toISOString()
const toApplication = (row: Tables['applications']): Application => ({
  id: row.id,
  name: row.name,
  owner: row.owner,
  throttlingPolicy: row.throttling_policy,
  description: row.description,
  createdAt: row.created_at,
})

/**
 * Applications, their production and sandbox consumer keys, and their subscriptions to APIs with a throttling
 * tier: the records consumer authentication and throttling read. A consumer secret is returned once, when made,
 * and stored only as a hash.
 */
export class Applications {
  readonly #db: Kysely<Tables>

  constructor(db: Kysely<Tables>) {
    this.#db = db
  }

  async create(input: { name?: unknown; throttlingPolicy?: unknown; description?: unknown }, owner: string): Promise<Application> {
    const issues = []
    if (typeof input.name !== 'string' || !/^.{1,100}$/.test(input.name)) issues.push({ path: 'name', message: 'is required: 1-100 characters' })
    const tier = input.throttlingPolicy ?? 'Unlimited'
    if (typeof tier !== 'string' || !TIER.test(tier)) issues.push({ path: 'throttlingPolicy', message: 'must be a tier name: 1-64 letters, digits, "_" or "-"' })
    if (input.description !== undefined && typeof input.description !== 'string') issues.push({ path: 'description', message: 'must be a string' })
    if (issues.length > 0) throw new StoreError('invalid', 'the application has invalid fields', issues)
    const row = { id: randomUUID(), name: input.name as string, owner, throttling_policy: tier as string, description: (input.description as string | undefined) ?? null, created_at: now() }
    await this.#write(async (tx) => {
      await tx.insertInto('applications').values(row).execute()
      await audit(tx, owner, 'application.create', `application:${row.id}`, undefined, { name: row.name, throttlingPolicy: row.throttling_policy })
    }, `an application named "${row.name}" exists already`)
    return toApplication(row)
  }

  async list(): Promise<Application[]> {
    return (await this.#db.selectFrom('applications').selectAll().orderBy('name').execute()).map(toApplication)
  }

  async get(id: string): Promise<Application> {
    const row = await this.#db.selectFrom('applications').selectAll().where('id', '=', id).executeTakeFirst()
    if (!row) throw new StoreError('not-found', `no application with id ${id}`)
    return toApplication(row)
  }

  async delete(id: string, actor: string): Promise<void> {
    await this.#write(async (tx) => {
      await tx.deleteFrom('subscriptions').where('application_id', '=', id).execute()
      await tx.deleteFrom('application_keys').where('application_id', '=', id).execute()
      const removed = await tx.deleteFrom('applications').where('id', '=', id).executeTakeFirst()
      if (Number(removed.numDeletedRows) === 0) throw new StoreError('not-found', `no application with id ${id}`)
      await audit(tx, actor, 'application.delete', `application:${id}`, undefined, undefined)
    })
  }

  /** New consumer key and secret of `keyType`, replacing any before; the secret is in this answer only. */
  async generateKeys(id: string, keyType: unknown, actor: string): Promise<{ keyType: KeyType; consumerKey: string; consumerSecret: string }> {
    const type = typeof keyType === 'string' ? keyType.toUpperCase() : ''
    if (!(KEY_TYPES as readonly string[]).includes(type)) throw new StoreError('invalid', 'the key type is invalid', [{ path: 'keyType', message: `must be ${KEY_TYPES.join(' or ')}` }])
    await this.get(id)
    const consumerKey = randomBytes(18).toString('base64url')
    const consumerSecret = randomBytes(32).toString('base64url')
    await this.#write(async (tx) => {
      await tx.deleteFrom('application_keys').where('application_id', '=', id).where('key_type', '=', type).execute()
      await tx.insertInto('application_keys').values({ application_id: id, key_type: type, consumer_key: consumerKey, secret_hash: createHash('sha256').update(consumerSecret).digest('hex'), created_at: now() }).execute()
      await audit(tx, actor, 'application.keys', `application:${id}`, undefined, { keyType: type, consumerKey })
    })
    return { keyType: type as KeyType, consumerKey, consumerSecret }
  }

  async keys(id: string): Promise<{ keyType: string; consumerKey: string; createdAt: string }[]> {
    await this.get(id)
    const rows = await this.#db.selectFrom('application_keys').select(['key_type', 'consumer_key', 'created_at']).where('application_id', '=', id).orderBy('key_type').execute()
    return rows.map((row) => ({ keyType: row.key_type, consumerKey: row.consumer_key, createdAt: row.created_at }))
  }

  /** Whether `consumerSecret` is the secret of `consumerKey`; which application and key type it belongs to. */
  async verifyKey(consumerKey: string, consumerSecret: string): Promise<{ applicationId: string; keyType: string } | undefined> {
    const row = await this.#db.selectFrom('application_keys').selectAll().where('consumer_key', '=', consumerKey).executeTakeFirst()
    if (!row || row.secret_hash !== createHash('sha256').update(consumerSecret).digest('hex')) return undefined
    return { applicationId: row.application_id, keyType: row.key_type }
  }

  /** Subscribes an application to a PUBLISHED (or PROTOTYPED) API with a throttling tier. */
  async subscribe(input: { applicationId?: unknown; apiId?: unknown; throttlingPolicy?: unknown }, actor: string): Promise<{ id: string; applicationId: string; apiId: string; throttlingPolicy: string; status: string }> {
    const issues = []
    if (typeof input.applicationId !== 'string') issues.push({ path: 'applicationId', message: 'is required (string)' })
    if (typeof input.apiId !== 'string') issues.push({ path: 'apiId', message: 'is required (string)' })
    const tier = input.throttlingPolicy ?? 'Unlimited'
    if (typeof tier !== 'string' || !TIER.test(tier)) issues.push({ path: 'throttlingPolicy', message: 'must be a tier name: 1-64 letters, digits, "_" or "-"' })
    if (issues.length > 0) throw new StoreError('invalid', 'the subscription has invalid fields', issues)
    await this.get(input.applicationId as string)
    const api = await this.#db.selectFrom('apis').select(['lifecycle', 'name', 'version']).where('id', '=', input.apiId as string).executeTakeFirst()
    if (!api) throw new StoreError('not-found', `no API with id ${String(input.apiId)}`)
    if (api.lifecycle !== 'PUBLISHED' && api.lifecycle !== 'PROTOTYPED') throw new StoreError('conflict', `API ${api.name} ${api.version} is ${api.lifecycle}: only PUBLISHED and PROTOTYPED APIs take subscriptions`)
    const row = { id: randomUUID(), application_id: input.applicationId as string, api_id: input.apiId as string, throttling_policy: tier as string, status: 'UNBLOCKED', created_at: now() }
    await this.#write(async (tx) => {
      await tx.insertInto('subscriptions').values(row).execute()
      await audit(tx, actor, 'subscription.create', `subscription:${row.id}`, undefined, { applicationId: row.application_id, apiId: row.api_id, throttlingPolicy: row.throttling_policy })
    }, 'the application is subscribed to this API already')
    return { id: row.id, applicationId: row.application_id, apiId: row.api_id, throttlingPolicy: row.throttling_policy, status: row.status }
  }

  async subscriptions(filter: { apiId?: string; applicationId?: string }): Promise<{ id: string; applicationId: string; apiId: string; throttlingPolicy: string; status: string; createdAt: string }[]> {
    let query = this.#db.selectFrom('subscriptions').selectAll()
    if (filter.apiId) query = query.where('api_id', '=', filter.apiId)
    if (filter.applicationId) query = query.where('application_id', '=', filter.applicationId)
    const rows = await query.orderBy('created_at').execute()
    return rows.map((row) => ({ id: row.id, applicationId: row.application_id, apiId: row.api_id, throttlingPolicy: row.throttling_policy, status: row.status, createdAt: row.created_at }))
  }

  async unsubscribe(id: string, actor: string): Promise<void> {
    await this.#write(async (tx) => {
      const removed = await tx.deleteFrom('subscriptions').where('id', '=', id).executeTakeFirst()
      if (Number(removed.numDeletedRows) === 0) throw new StoreError('not-found', `no subscription with id ${id}`)
      await audit(tx, actor, 'subscription.delete', `subscription:${id}`, undefined, undefined)
    })
  }

  async #write(work: Parameters<ReturnType<Kysely<Tables>['transaction']>['execute']>[0], duplicate = 'the record exists already'): Promise<void> {
    try {
      await this.#db.transaction().execute(work)
    } catch (error) {
      if (isUniqueViolation(error)) throw new StoreError('conflict', duplicate)
      throw error
    }
  }
}
