import type { IncomingMessage, ServerResponse } from 'node:http'
import { MAX_CONFIG_DEPTH, tooDeepAt } from '../config/depth.ts'
import { formatPath } from '../config/path.ts'
import { StoreError } from '../store/errors.ts'
import { CHECKLIST } from '../store/lifecycle-actions.ts'
import type { Checklist, ConfigStore, Scope, StoredApi } from '../store/store.ts'
import { withoutSecrets } from '../store/write-only-secrets.ts'
import { openApiDocument } from './openapi.ts'
import { streamEndpoints } from './health-stream.ts'
import { CallFailed, CallRefused, testEndpoint, tryApi } from './outbound.ts'

/** What the publisher API reads of the gateway this node runs: live endpoint state, and where it listens. */
export interface GatewayRuntime {
  endpoints(): Promise<unknown>
  /** Puts every leaf named `id` back to active; how many there were. */
  resetEndpoint?(id: string): Promise<number>
  /** Where this node's listeners answer, plain HTTP first. */
  gatewayUrls?(): string[]
}

const MAX_BODY = 1_048_576

interface Call {
  req: IncomingMessage
  res: ServerResponse
  params: string[]
  query: URLSearchParams
  actor: string
  token: { name: string; scopes: Scope[] }
  body: () => Promise<unknown>
}

type Handler = (call: Call) => Promise<void>

class HttpError extends Error {
  readonly status: number
  readonly code: string
  constructor(status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
  }
}

/**
 * The publisher REST API under `/api/v1`: APIs, endpoints, lifecycle, revisions, deployments, tokens and the audit
 * log, over the config store. Routing is a short table of patterns: a handful of routes do not need a framework.
 */
export class Publisher {
  readonly #store: ConfigStore
  readonly #routes: { method: string; pattern: RegExp; scope: Scope | undefined; handler: Handler }[] = []
  readonly #openApi = JSON.stringify(openApiDocument())
  #runtime: GatewayRuntime | undefined

  constructor(store: ConfigStore) {
    this.#store = store
    const s = store
    const api = '/apis/([^/]+)'
    this.#add('GET', '/me', undefined, async ({ res, token }) => send(res, 200, { name: token.name, scopes: token.scopes }))
    this.#add('GET', '/apis', 'view', async ({ res, query }) => {
      const page = await s.listApis({ query: query.get('query') ?? undefined, limit: numberOf(query, 'limit'), offset: numberOf(query, 'offset') })
      const deployed = await s.deployedEnvironments(page.list.map((api) => api.id))
      send(res, 200, { ...page, list: page.list.map((api) => ({ ...summary(api), deployedTo: deployed.get(api.id) ?? [] })) })
    })
    this.#add('POST', '/apis', 'create', async ({ res, body, actor }) => {
      const created = await s.createApi(editable(await body()), actor)
      send(res, 201, present(created), { etag: etagOf(created), location: `/api/v1/apis/${created.id}` })
    })
    this.#add('GET', api, 'view', async ({ res, params }) => {
      const found = await s.getApi(params[0]!)
      send(res, 200, present(found), { etag: etagOf(found) })
    })
    this.#add('PUT', api, 'create', async ({ req, res, params, body, actor }) => {
      const updated = await s.updateApi(params[0]!, editable(await body()), actor, ifMatch(req))
      send(res, 200, present(updated), { etag: etagOf(updated) })
    })
    this.#add('DELETE', api, 'create', async ({ res, params, query, actor }) => {
      await s.deleteApi(params[0]!, actor, query.get('force') === 'true')
      send(res, 204)
    })
    this.#add('POST', `${api}/new-version`, 'create', async ({ res, params, body, actor }) => {
      const input = (await body()) as { version?: unknown; defaultVersion?: unknown }
      if (typeof input?.version !== 'string') throw new StoreError('invalid', 'the new version is invalid', [{ path: 'version', message: 'is required (string)' }])
      const created = await s.newVersion(params[0]!, input.version, actor, typeof input.defaultVersion === 'boolean' ? input.defaultVersion : undefined)
      send(res, 201, present(created), { etag: etagOf(created), location: `/api/v1/apis/${created.id}` })
    })
    this.#add('GET', `${api}/endpoints`, 'view', async ({ res, params }) => {
      const found = await s.getApi(params[0]!)
      send(res, 200, withoutSecrets(found.config.endpoints ?? {}), { etag: etagOf(found) })
    })
    this.#add('PUT', `${api}/endpoints`, 'create', async ({ req, res, params, body, actor }) => {
      const found = await s.getApi(params[0]!)
      const { lifecycle: _lifecycle, ...config } = found.config
      const updated = await s.updateApi(params[0]!, { ...config, endpoints: await body() }, actor, ifMatch(req))
      send(res, 200, withoutSecrets(updated.config.endpoints ?? {}), { etag: etagOf(updated) })
    })
    this.#add('GET', `${api}/lifecycle`, 'view', async ({ res, params }) => {
      const state = await s.lifecycle(params[0]!)
      send(res, 200, { ...state, checkItems: state.availableTransitions.some((step) => step.event === 'Publish') ? CHECKLIST : [] })
    })
    this.#add('POST', `${api}/lifecycle`, 'publish', async ({ req, res, params, query, body, actor }) => {
      const input = ((await body()) ?? {}) as { action?: unknown; checklist?: Record<string, unknown> }
      const given = query.get('action') ?? input.action
      if (typeof given !== 'string') throw new StoreError('invalid', 'no lifecycle action', [{ path: 'action', message: 'is required, e.g. ?action=Publish' }])
      const changed = await s.changeLifecycle(params[0]!, given, actor, ifMatch(req), checklistOf(query.get('lifecycleChecklist'), input.checklist))
      send(res, 200, await s.lifecycle(changed.id), { etag: etagOf(changed) })
    })
    this.#add('GET', `${api}/lifecycle-history`, 'view', async ({ res, params }) => {
      const list = await s.lifecycleHistory(params[0]!)
      send(res, 200, { count: list.length, list })
    })
    this.#add('GET', `${api}/revisions`, 'view', async ({ res, params }) => {
      const list = await s.listRevisions(params[0]!)
      send(res, 200, { count: list.length, list })
    })
    this.#add('POST', `${api}/revisions`, 'create', async ({ res, params, body, actor }) => {
      const input = ((await body()) ?? {}) as { description?: unknown }
      send(res, 201, await s.createRevision(params[0]!, actor, typeof input.description === 'string' ? input.description : undefined))
    })
    this.#add('GET', `${api}/revisions/([^/]+)`, 'view', async ({ res, params }) => {
      const revision = await s.getRevision(params[0]!, params[1]!)
      send(res, 200, { ...revision, config: withoutSecrets(revision.config) })
    })
    this.#add('GET', `${api}/deployments`, 'view', async ({ res, params }) => {
      const list = await s.deployments(params[0]!)
      send(res, 200, { count: list.length, list })
    })
    this.#add('POST', `${api}/deployments`, 'publish', async ({ res, params, body, actor }) => {
      const input = ((await body()) ?? {}) as { revisionId?: unknown; environment?: unknown }
      if (typeof input.revisionId !== 'string') throw new StoreError('invalid', 'no revision', [{ path: 'revisionId', message: 'is required (string)' }])
      const environment = typeof input.environment === 'string' ? input.environment : 'default'
      send(res, 201, { ...(await s.deploy(params[0]!, input.revisionId, environment, actor)), environment, revisionId: input.revisionId })
    })
    this.#add('DELETE', `${api}/deployments/([^/]+)`, 'publish', async ({ res, params, actor }) => {
      send(res, 200, await s.undeploy(params[0]!, params[1]!, actor))
    })
    this.#add('POST', `${api}/endpoint-test`, 'create', async ({ res, params, body }) => {
      const input = ((await body()) ?? {}) as { environment?: unknown; method?: unknown; path?: unknown }
      const environment = input.environment ?? 'production'
      if (environment !== 'production' && environment !== 'sandbox') throw new CallRefused('environment', 'must be production or sandbox')
      const found = await s.getApi(params[0]!)
      const endpoint = (found.config.endpoints as Record<string, unknown> | undefined)?.[environment]
      if (!endpoint) throw new CallRefused('environment', `the API has no ${environment} endpoint`)
      send(res, 200, { environment, leaves: await testEndpoint(endpoint, environment, input.method, input.path) })
    })
    this.#add('POST', `${api}/try`, 'view', async ({ res, params, body }) => {
      const found = await s.getApi(params[0]!)
      send(res, 200, await tryApi({ context: found.context, version: found.version, defaultVersion: found.config.defaultVersion === true }, this.#runtime?.gatewayUrls?.() ?? [], ((await body()) ?? {}) as object))
    })
    this.#add('GET', '/endpoint-health', 'view', async ({ req, res }) => {
      const runtime = this.#runtime
      if (!runtime) throw new HttpError(404, 'NO_ROUTE', 'This node serves no gateway')
      if (!(req.headers.accept ?? '').includes('text/event-stream')) return send(res, 200, await runtime.endpoints())
      if (!streamEndpoints(req, res, () => runtime.endpoints())) throw new HttpError(503, 'TOO_MANY_STREAMS', 'Too many endpoint streams are open on this node; retry later')
    })
    this.#add('POST', '/endpoint-health/([^/]+)/reset', 'publish', async ({ res, params }) => {
      const count = (await this.#runtime?.resetEndpoint?.(params[0]!)) ?? 0
      if (count === 0) throw new HttpError(404, 'NOT_FOUND', `No endpoint with a suspension state is named ${params[0]}`)
      send(res, 200, { id: params[0], reset: count })
    })
    this.#add('GET', '/nodes', 'view', async ({ res }) => {
      send(res, 200, { latestVersion: await s.latestVersionNumber(), nodes: await s.nodes() })
    })
    const apps = store.applications
    this.#add('GET', '/applications', 'view', async ({ res }) => {
      const list = await apps.list()
      send(res, 200, { count: list.length, list })
    })
    this.#add('POST', '/applications', 'subscribe', async ({ res, body, actor }) => send(res, 201, await apps.create(((await body()) ?? {}) as object, actor)))
    this.#add('GET', '/applications/([^/]+)', 'view', async ({ res, params }) => send(res, 200, await apps.get(params[0]!)))
    this.#add('DELETE', '/applications/([^/]+)', 'subscribe', async ({ res, params, actor }) => {
      await apps.delete(params[0]!, actor)
      send(res, 204)
    })
    this.#add('POST', '/applications/([^/]+)/generate-keys', 'subscribe', async ({ res, params, body, actor }) => {
      send(res, 201, await apps.generateKeys(params[0]!, (((await body()) ?? {}) as { keyType?: unknown }).keyType, actor))
    })
    this.#add('GET', '/applications/([^/]+)/keys', 'view', async ({ res, params }) => send(res, 200, { list: await apps.keys(params[0]!) }))
    this.#add('GET', '/subscriptions', 'view', async ({ res, query }) => {
      const list = await apps.subscriptions({ apiId: query.get('apiId') ?? undefined, applicationId: query.get('applicationId') ?? undefined })
      send(res, 200, { count: list.length, list })
    })
    this.#add('POST', '/subscriptions', 'subscribe', async ({ res, body, actor }) => send(res, 201, await apps.subscribe(((await body()) ?? {}) as object, actor)))
    this.#add('DELETE', '/subscriptions/([^/]+)', 'subscribe', async ({ res, params, actor }) => {
      await apps.unsubscribe(params[0]!, actor)
      send(res, 204)
    })
    this.#add('GET', '/tokens', 'manage', async ({ res }) => send(res, 200, { list: await s.listTokens() }))
    this.#add('POST', '/tokens', 'manage', async ({ res, body, actor }) => {
      const input = ((await body()) ?? {}) as { name?: unknown; scopes?: unknown }
      if (typeof input.name !== 'string' || !Array.isArray(input.scopes)) throw new StoreError('invalid', 'the token is invalid', [{ path: typeof input.name !== 'string' ? 'name' : 'scopes', message: 'is required' }])
      send(res, 201, await s.createToken(input.name, input.scopes as Scope[], actor))
    })
    this.#add('DELETE', '/tokens/([^/]+)', 'manage', async ({ res, params, actor }) => {
      await s.deleteToken(params[0]!, actor)
      send(res, 204)
    })
    this.#add('GET', '/audit', 'manage', async ({ res, query }) => send(res, 200, { list: await s.auditLog({ limit: numberOf(query, 'limit'), offset: numberOf(query, 'offset') }) }))
  }

  /** The gateway this node runs, once it runs: what the endpoint health, test and "try it" calls read. */
  useRuntime(runtime: GatewayRuntime): void {
    this.#runtime = runtime
  }

  #add(method: string, path: string, scope: Scope | undefined, handler: Handler): void {
    this.#routes.push({ method, pattern: new RegExp(`^${path}$`), scope, handler })
  }

  /** Answers a request whose path starts with `/api/v1`. */
  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const path = url.pathname.slice('/api/v1'.length) || '/'
    try {
      if (path === '/openapi.json' && req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(this.#openApi) })
        res.end(this.#openApi)
        return
      }
      const matching = this.#routes.filter((route) => route.pattern.test(path))
      if (matching.length === 0) throw new HttpError(404, 'NO_ROUTE', `No publisher resource at ${url.pathname}`)
      const route = matching.find((candidate) => candidate.method === req.method)
      if (!route) throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${url.pathname}; allowed: ${matching.map((candidate) => candidate.method).join(', ')}`)
      const token = await this.#authorize(req, route.scope)
      const params = route.pattern.exec(path)!.slice(1).map(decodedParameter)
      await route.handler({ req, res, params, query: url.searchParams, actor: `token:${token.name}`, token, body: () => readJson(req) })
    } catch (error) {
      if (error instanceof HttpError) return send(res, error.status, { code: error.code, message: error.message })
      if (error instanceof CallRefused) return send(res, 400, { code: 'INVALID', message: `${error.path} ${error.message}`, errors: [{ path: error.path, message: error.message }] })
      if (error instanceof CallFailed) return send(res, 502, { code: 'CALL_FAILED', message: error.message })
      if (error instanceof StoreError) {
        const status = { 'not-found': 404, invalid: 400, conflict: 409, stale: 412 }[error.kind]
        return send(res, status, { code: error.kind.toUpperCase().replace('-', '_'), message: error.message, ...(error.issues.length ? { errors: error.issues } : {}) })
      }
      if (unreachable(error)) return send(res, 503, { code: 'STORE_UNAVAILABLE', message: 'The config store is unreachable; this node serves its last applied config. Retry later.' })
      throw error
    }
  }

  async #authorize(req: IncomingMessage, scope: Scope | undefined): Promise<{ name: string; scopes: Scope[] }> {
    const header = req.headers.authorization ?? ''
    const match = /^Bearer\s+(\S+)$/i.exec(header)
    const token = match ? await this.#store.verifyToken(match[1]!) : undefined
    if (!token) throw new HttpError(401, 'UNAUTHORIZED', 'Send an admin token: Authorization: Bearer <token>')
    if (scope && !token.scopes.includes(scope)) throw new HttpError(403, 'FORBIDDEN', `The token lacks the "${scope}" scope`)
    return token
  }
}

function decodedParameter(text: string): string {
  try {
    return decodeURIComponent(text)
  } catch {
    throw new HttpError(400, 'BAD_REQUEST', `"${text}" is not valid percent-encoding`)
  }
}

/** Connection failures (refused, reset, timed out) and PostgreSQL's shutdown and connection errors (57P, 08). */
function unreachable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && (/^(ECONNREFUSED|ECONNRESET|ETIMEDOUT|EPIPE|ENOTFOUND)$/.test(code) || /^(57P0|08)/.test(code))
}

/**
 * The checklist as WSO2's REST API sends it (`lifecycleChecklist=Deprecate old versions:true,Require
 * re-subscription:true`) or as a body's `checklist: {deprecateOldVersions, requireResubscription}`.
 */
function checklistOf(query: string | null, body: Record<string, unknown> | undefined): Checklist {
  const items = new Map((query ?? '').split(',').filter(Boolean).map((item) => {
    const [name = '', value = ''] = item.split(':')
    return [name.trim().toLowerCase(), value.trim().toLowerCase() === 'true'] as const
  }))
  return {
    deprecateOldVersions: body?.deprecateOldVersions === true || items.get('deprecate old versions') === true,
    requireResubscription: body?.requireResubscription === true || items.get('require re-subscription') === true,
  }
}

function numberOf(query: URLSearchParams, name: string): number | undefined {
  const value = query.get(name)
  if (value === null) return undefined
  const number = Number(value)
  // Safe integers only: 1e20 is an integer to JavaScript and an overflow to the database.
  if (!Number.isSafeInteger(number) || number < 0) throw new StoreError('invalid', `${name} is invalid`, [{ path: name, message: 'must be a whole number of at least 0' }])
  return number
}

/** The fields a read adds, which an edit made from that read sends back and the store does not keep. */
function editable(body: unknown): unknown {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) return body
  const { id: _id, createdAt: _createdAt, updatedAt: _updatedAt, ...rest } = body as Record<string, unknown>
  return rest
}

function summary(api: StoredApi): object {
  return { id: api.id, name: api.name, version: api.version, context: api.context, lifecycleStatus: api.lifecycle, updatedAt: api.updatedAt }
}

function present(api: StoredApi): object {
  return { id: api.id, ...withoutSecrets(api.config), createdAt: api.createdAt, updatedAt: api.updatedAt }
}

const etagOf = (api: StoredApi) => `"${api.etag}"`

/** The ETag `If-Match` names; a value that names none of this API's ETags can only be stale. */
function ifMatch(req: IncomingMessage): number | undefined {
  const header = req.headers['if-match']
  if (header === undefined || header.trim() === '*') return undefined
  const match = /^\s*(?:W\/)?"(\d+)"\s*$/.exec(header)
  return match ? Number(match[1]) : -1
}

async function readJson(req: IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of req) {
    size += (chunk as Buffer).length
    if (size > MAX_BODY) throw new HttpError(413, 'BODY_TOO_LARGE', `The body is larger than ${MAX_BODY} bytes`)
    chunks.push(chunk as Buffer)
  }
  if (size === 0) return undefined
  let body: unknown
  try {
    body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  } catch (error) {
    throw new HttpError(400, 'INVALID_JSON', `The body is not JSON: ${(error as Error).message}`)
  }
  // Every walk over a body (secrets kept, the schema, the audit copy) recurses: a body as deep as a config may be.
  const deep = tooDeepAt(body)
  if (deep) throw new StoreError('invalid', 'the body nests too deeply', [{ path: formatPath(deep), message: `nests more than ${MAX_CONFIG_DEPTH} levels deep` }])
  return body
}

function send(res: ServerResponse, status: number, value?: unknown, headers: Record<string, string> = {}): void {
  if (value === undefined) {
    res.writeHead(status, headers)
    res.end()
    return
  }
  const body = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...headers })
  res.end(body)
}
