import { createHash } from 'node:crypto'
import type { EndpointConfig } from '../endpoints/schema.ts'
import { childEndpoints } from '../endpoints/tree.ts'
import { apiBasePaths, ENVIRONMENTS, type ApiConfig, type ConfigModel, type Environment } from '../config/schema.ts'
import type { Endpoint } from '../core/endpoint.ts'
import { createEndpoint, loadEndpointModules } from '../endpoints/factory.ts'
import { filterChain, loadFilterModules, type FilterLimits } from '../filters/chain.ts'
import { compiledTemplate } from '../core/uri-template.ts'
import { CompiledApi, CompiledResource } from './api.ts'
import { Router } from './router.ts'

/**
 * Imports what `config`'s endpoint types and API filters need; a snapshot can be built from it once this has
 * resolved. Kept apart from building so that the build stays synchronous and the swap atomic. The APIs
 * `previous` holds as they are needed nothing that is not loaded already.
 */
export async function loadSnapshotModules(config: ConfigModel, previous?: Snapshot): Promise<void> {
  const apis = previous ? config.apis.filter((api, index) => previous.config.apis[index] !== api) : config.apis
  const endpoints: EndpointConfig[] = []
  for (const api of apis) {
    for (const environment of ENVIRONMENTS) {
      const own = api.endpoints[environment]
      if (own) endpoints.push(own)
      for (const resource of api.resources) {
        const local = resource.endpoints?.[environment]
        if (local) endpoints.push(local)
      }
    }
  }
  await Promise.all([loadEndpointModules(endpoints), loadFilterModules(apis, filterLimits(config))])
}

/** What the API filters read from outside the API: the limits and the shared throttling policies. */
function filterLimits(config: ConfigModel): FilterLimits {
  return { ...config.limits, throttling: config.throttling }
}

/** One API as compiled, with the endpoints it made or reused: what a later snapshot carries over whole. */
interface ApiBuild {
  /** A digest of the API's config and the limits: what a later snapshot finds it by when its config is a copy. */
  readonly digest: string
  readonly compiled: CompiledApi
  readonly endpoints: readonly (readonly [key: string, endpoint: Endpoint])[]
  readonly roots: readonly Endpoint[]
  /** The latest snapshot that holds this build: how a snapshot tells, without a set of thousands, what it dropped. */
  latest: Snapshot | undefined
}

/**
 * One immutable, compiled view of the config. A reload compiles a new snapshot and swaps it in; requests in
 * flight keep the one they started with. Endpoints whose config did not change are carried over, so they keep
 * their connection pools and their state; so is every API whose config (and the limits its filters read) did not
 * change, compiled resources and filters included, so that a change to one API of thousands rebuilds one.
 *
 * With thousands of APIs even a map entry per API is felt on every reload, so an unchanged API is found by its
 * position (a config reader hands the same object for an API whose text did not change), and the views only the
 * admin port and a build of a changed API need (every endpoint by key, the roots) are made on first use.
 */
export class Snapshot {
  readonly config: ConfigModel
  readonly router: Router
  readonly apis: readonly CompiledApi[]
  /** When each DEPRECATED API was first seen deprecated, kept across reloads for its `Deprecation` header. */
  readonly deprecatedSince: ReadonlyMap<string, number>
  /** Each API's build, in the order of `config.apis`. */
  readonly #builds: readonly ApiBuild[]
  /** The limits the filters of this snapshot's APIs read, as text: builds are reused only under the same. */
  readonly #limits: string

  constructor(config: ConfigModel, previous?: Snapshot) {
    this.config = config
    this.router = new Router()
    const deprecatedSince = new Map<string, number>()
    /** Endpoints this snapshot made (not carried over): closed again if building the snapshot fails. */
    const created: Endpoint[] = []
    /** Endpoints of the APIs compiled afresh, by identity key: shared between them as between unchanged ones. */
    const fresh = new Map<string, Endpoint>()
    /** What the endpoints of the API being compiled are, for its ApiBuild. */
    let apiEndpoints: Map<string, Endpoint> | undefined
    /** The previous build of the API being compiled, where it was: where its unchanged endpoints are. */
    let ownPrevious: ApiBuild | undefined
    /**
     * An endpoint of the previous snapshot for `key`: the API's own; anyone's only for an endpoint with a name of
     * its own (which may move between APIs) or an API that moved, since the others are named after their API.
     */
    const previousEndpoint = (key: string, isNamed: boolean): Endpoint | undefined => {
      if (ownPrevious) for (const [ownKey, endpoint] of ownPrevious.endpoints) if (ownKey === key) return endpoint
      return isNamed || !ownPrevious ? previous?.endpoints.get(key) : undefined
    }
    const build = (endpointConfig: EndpointConfig, id: string, inGroup = false): Endpoint => {
      const key = `${id}\u0000${inGroup}\u0000${JSON.stringify(endpointConfig)}`
      const isNamed = endpointConfig.name !== undefined
      let endpoint = fresh.get(key)
      const carried = endpoint ? undefined : previousEndpoint(key, isNamed)
      if (carried) {
        endpoint = carried
        // A reused group keeps its children: they belong to this snapshot too, or the swap would close them.
        for (const [child, childId] of childEndpoints(endpointConfig, id)) build(child, childId, true)
      }
      if (!endpoint) {
        endpoint = createEndpoint(endpointConfig, id, build, inGroup)
        created.push(endpoint)
      }
      fresh.set(key, endpoint)
      apiEndpoints?.set(key, endpoint)
      return endpoint
    }
    // An API is carried over only if nothing its filters read from outside it changed either.
    const limits = JSON.stringify(filterLimits(config))
    const reusable = previous !== undefined && previous.#limits === limits ? previous : undefined
    const builds: ApiBuild[] = []
    const apis: CompiledApi[] = []
    try {
      config.apis.forEach((api, index) => {
        const key = `${api.name}:${api.version}`
        if (api.lifecycle === 'DEPRECATED') deprecatedSince.set(key, previous?.deprecatedSince.get(key) ?? Date.now())
        let apiBuild: ApiBuild | undefined
        if (reusable) {
          // In place, or (when APIs were added or removed) moved; an API replaced in place is looked up by digest.
          if (reusable.config.apis[index] === api) apiBuild = reusable.#builds[index]
          else if (reusable.config.apis.length !== config.apis.length) apiBuild = reusable.#buildsByApi().get(api)
        }
        const digest = apiBuild?.digest ?? createHash('sha256').update(limits).update(JSON.stringify(api)).digest('base64')
        if (!apiBuild && reusable) apiBuild = reusable.#buildsByDigest().get(digest)
        if (!apiBuild) {
          apiEndpoints = new Map()
          const before = previous?.config.apis[index]
          ownPrevious = before && before.name === api.name && before.version === api.version ? previous!.#builds[index] : undefined
          const apiRoots: Endpoint[] = []
          const compiled = this.#compile(api, build, apiRoots, deprecatedSince.get(key))
          apiBuild = { digest, compiled, endpoints: [...apiEndpoints], roots: apiRoots, latest: undefined }
          apiEndpoints = undefined
        }
        apiBuild.latest = this
        builds.push(apiBuild)
        apis.push(apiBuild.compiled)
        for (const basePath of apiBasePaths(api)) this.router.add(basePath, apiBuild.compiled)
      })
    } catch (error) {
      // Pools and health-check timers of a snapshot that will never serve must not linger.
      for (const endpoint of created) endpoint.close().catch(() => {})
      throw error
    }
    this.apis = apis
    this.deprecatedSince = deprecatedSince
    this.#builds = builds
    this.#limits = limits
  }

  #compile(api: ApiConfig, build: (config: EndpointConfig, id: string) => Endpoint, roots: Endpoint[], deprecatedSince: number | undefined): CompiledApi {
    const apiEndpoints: Partial<Record<Environment, Endpoint>> = {}
    for (const environment of ENVIRONMENTS) {
      const endpointConfig = api.endpoints[environment]
      if (!endpointConfig) continue
      const endpoint = build(endpointConfig, endpointConfig.name ?? `${api.name}:${api.version}:${environment}`)
      apiEndpoints[environment] = endpoint
      roots.push(endpoint)
    }
    const resources = api.resources.map((resource) => {
      const resourceEndpoints = { ...apiEndpoints }
      for (const environment of ENVIRONMENTS) {
        const endpointConfig = resource.endpoints?.[environment]
        if (!endpointConfig) continue
        const id = endpointConfig.name ?? `${api.name}:${api.version}:${resource.uriTemplate}:${environment}`
        const endpoint = build(endpointConfig, id)
        resourceEndpoints[environment] = endpoint
        roots.push(endpoint)
      }
      return new CompiledResource(api, resource, resourceEndpoints, filterChain(api, resource, filterLimits(this.config)), compiledTemplate(resource.uriTemplate))
    })
    return new CompiledApi(api, resources, deprecatedSince)
  }

  #endpoints: Map<string, Endpoint> | undefined
  /** Every endpoint in the snapshot (groups and their children), by identity key. */
  get endpoints(): ReadonlyMap<string, Endpoint> {
    if (this.#endpoints) return this.#endpoints
    this.#endpoints = new Map()
    for (const apiBuild of this.#builds) for (const [key, endpoint] of apiBuild.endpoints) this.#endpoints.set(key, endpoint)
    return this.#endpoints
  }

  #roots: Endpoint[] | undefined
  /** The top-level endpoint of each API environment and resource override, for the admin view. */
  get roots(): readonly Endpoint[] {
    this.#roots ??= [...new Set(this.#builds.flatMap((apiBuild) => apiBuild.roots))]
    return this.#roots
  }

  #rootIdsByApi: Map<string, string[]> | undefined
  /** The ids of each API's top-level endpoints, by `name:version`: what the console groups its endpoint trees by. */
  get rootIdsByApi(): ReadonlyMap<string, readonly string[]> {
    this.#rootIdsByApi ??= new Map(this.config.apis.map((api, index) => [`${api.name}:${api.version}`, this.#builds[index]!.roots.map((root) => root.id)]))
    return this.#rootIdsByApi
  }

  #byApi: Map<ApiConfig, ApiBuild> | undefined
  /** The builds by API config object, for a next snapshot whose APIs moved. */
  #buildsByApi(): ReadonlyMap<ApiConfig, ApiBuild> {
    this.#byApi ??= new Map(this.config.apis.map((api, index) => [api, this.#builds[index]!]))
    return this.#byApi
  }

  #byDigest: Map<string, ApiBuild> | undefined
  /** The builds by digest, for a next snapshot whose API configs are copies (a config store's, every time). */
  #buildsByDigest(): ReadonlyMap<string, ApiBuild> {
    this.#byDigest ??= new Map(this.#builds.map((apiBuild) => [apiBuild.digest, apiBuild]))
    return this.#byDigest
  }

  #inFlight = 0
  #onDrained: Array<() => void> = []

  /** A request started on this snapshot. */
  enter(): void {
    this.#inFlight++
  }

  /** A request that started on this snapshot has ended (its response finished or its client went away). */
  leave(): void {
    if (--this.#inFlight > 0) return
    for (const resolve of this.#onDrained.splice(0)) resolve()
  }

  /** Resolves once no request that started on this snapshot is still running. */
  drained(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#onDrained.push(resolve))
  }

  /**
   * Endpoints of this snapshot that `next` (built from it, the latest) no longer uses: safe to close once their
   * requests finish. Only the endpoints of the builds `next` dropped can be; each is kept if any build of `next`
   * holds it (taken over, or shared with another API).
   */
  retiredBy(next: Snapshot): Endpoint[] {
    const dropped = this.#builds.filter((apiBuild) => apiBuild.latest !== next)
    if (dropped.length === 0) return []
    const kept = new Set<Endpoint>()
    for (const apiBuild of next.#builds) for (const [, endpoint] of apiBuild.endpoints) kept.add(endpoint)
    const retired = new Set<Endpoint>()
    for (const apiBuild of dropped) for (const [, endpoint] of apiBuild.endpoints) if (!kept.has(endpoint)) retired.add(endpoint)
    return [...retired]
  }
}
