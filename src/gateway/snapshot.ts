import { createHash } from 'node:crypto'
import type { EndpointConfig } from '../endpoints/schema.ts'
import { childEndpoints } from '../endpoints/tree.ts'
import { apiBasePaths, ENVIRONMENTS, type ConfigModel, type Environment } from '../config/schema.ts'
import type { Endpoint } from '../core/endpoint.ts'
import { createEndpoint, loadEndpointModules } from '../endpoints/factory.ts'
import { filterChain, loadFilterModules, type FilterLimits } from '../filters/chain.ts'
import { ResourceTemplate } from '../core/uri-template.ts'
import { CompiledApi, CompiledResource } from './api.ts'
import { Router } from './router.ts'

/**
 * Imports what `config`'s endpoint types and API filters need; a snapshot can be built from it once this has
 * resolved. Kept apart from building so that the build stays synchronous and the swap atomic.
 */
export async function loadSnapshotModules(config: ConfigModel): Promise<void> {
  const endpoints: EndpointConfig[] = []
  for (const api of config.apis) {
    for (const environment of ENVIRONMENTS) {
      const own = api.endpoints[environment]
      if (own) endpoints.push(own)
      for (const resource of api.resources) {
        const local = resource.endpoints?.[environment]
        if (local) endpoints.push(local)
      }
    }
  }
  await Promise.all([loadEndpointModules(endpoints), loadFilterModules(config.apis, filterLimits(config))])
}

/** What the API filters read from outside the API: the limits and the shared throttling policies. */
function filterLimits(config: ConfigModel): FilterLimits {
  return { ...config.limits, throttling: config.throttling }
}

/** One API as compiled, with the endpoints it made or reused: what a later snapshot carries over whole. */
interface ApiBuild {
  readonly compiled: CompiledApi
  readonly endpoints: readonly (readonly [key: string, endpoint: Endpoint])[]
  readonly roots: readonly Endpoint[]
}

/**
 * One immutable, compiled view of the config. A reload compiles a new snapshot and swaps it in; requests in
 * flight keep the one they started with. Endpoints whose config did not change are carried over, so they keep
 * their connection pools and their state; so is every API whose config (and the limits its filters read) did not
 * change, compiled resources and filters included, so that a change to one API of thousands rebuilds one.
 */
export class Snapshot {
  readonly config: ConfigModel
  readonly router: Router
  readonly apis: readonly CompiledApi[]
  /** Every endpoint in the snapshot (groups and their children), by identity key. */
  readonly endpoints: ReadonlyMap<string, Endpoint>
  /** The top-level endpoint of each API environment and resource override, for the admin view. */
  readonly roots: readonly Endpoint[]
  /** The ids of each API's top-level endpoints, by `name:version`: what the console groups its endpoint trees by. */
  readonly rootIdsByApi: ReadonlyMap<string, readonly string[]>
  /** When each DEPRECATED API was first seen deprecated, kept across reloads for its `Deprecation` header. */
  readonly deprecatedSince: ReadonlyMap<string, number>
  /** Each API's build by a digest of its config and the limits, for the next snapshot to reuse. */
  readonly #builds: ReadonlyMap<string, ApiBuild>
  /**
   * Compiled URI templates by their text: thousands of APIs of one service repeat a handful of templates, and a
   * template is immutable once compiled. Carried to the next snapshot for the templates it still uses.
   */
  readonly #templates = new Map<string, ResourceTemplate>()
  /** The previous snapshot's templates, while this one is being built (not kept: snapshots must not chain). */
  #previousTemplates: ReadonlyMap<string, ResourceTemplate> | undefined

  constructor(config: ConfigModel, previous?: Snapshot) {
    this.config = config
    this.#previousTemplates = previous ? previous.#templates : undefined
    this.router = new Router()
    const endpoints = new Map<string, Endpoint>()
    const roots = new Set<Endpoint>()
    const deprecatedSince = new Map<string, number>()
    /** Endpoints this snapshot made (not carried over): closed again if building the snapshot fails. */
    const created: Endpoint[] = []
    const builds = new Map<string, ApiBuild>()
    const rootIdsByApi = new Map<string, string[]>()
    /** What the endpoints of the API being compiled are, for its ApiBuild. */
    let apiEndpoints: Map<string, Endpoint> | undefined
    const build = (endpointConfig: EndpointConfig, id: string, inGroup = false): Endpoint => {
      const key = `${id}\u0000${inGroup}\u0000${JSON.stringify(endpointConfig)}`
      let endpoint = endpoints.get(key)
      if (!endpoint && previous?.endpoints.has(key)) {
        endpoint = previous.endpoints.get(key)!
        // A reused group keeps its children: they belong to this snapshot too, or the swap would close them.
        for (const [child, childId] of childEndpoints(endpointConfig, id)) build(child, childId, true)
      }
      if (!endpoint) {
        endpoint = createEndpoint(endpointConfig, id, build, inGroup)
        created.push(endpoint)
      }
      endpoints.set(key, endpoint)
      apiEndpoints?.set(key, endpoint)
      return endpoint
    }
    // An API is carried over only if nothing its filters read from outside it changed either.
    const limits = JSON.stringify(filterLimits(config))
    const apis: CompiledApi[] = []
    try {
      for (const api of config.apis) {
        const key = `${api.name}:${api.version}`
        if (api.lifecycle === 'DEPRECATED') deprecatedSince.set(key, previous?.deprecatedSince.get(key) ?? Date.now())
        const digest = createHash('sha256').update(limits).update(JSON.stringify(api)).digest('base64')
        let apiBuild = previous ? previous.#builds.get(digest) : undefined
        if (apiBuild) {
          for (const [endpointKey, endpoint] of apiBuild.endpoints) endpoints.set(endpointKey, endpoint)
          for (const resource of apiBuild.compiled.resources) this.#templates.set(resource.template.template, resource.template)
        } else {
          apiEndpoints = new Map()
          const apiRoots: Endpoint[] = []
          const compiled = this.#compile(api, build, apiRoots, deprecatedSince.get(key))
          apiBuild = { compiled, endpoints: [...apiEndpoints], roots: apiRoots }
          apiEndpoints = undefined
        }
        builds.set(digest, apiBuild)
        for (const root of apiBuild.roots) roots.add(root)
        rootIdsByApi.set(key, apiBuild.roots.map((root) => root.id))
        apis.push(apiBuild.compiled)
        for (const basePath of apiBasePaths(api)) this.router.add(basePath, apiBuild.compiled)
      }
    } catch (error) {
      // Pools and health-check timers of a snapshot that will never serve must not linger.
      for (const endpoint of created) endpoint.close().catch(() => {})
      throw error
    } finally {
      this.#previousTemplates = undefined
    }
    this.apis = apis
    this.endpoints = endpoints
    this.roots = [...roots]
    this.rootIdsByApi = rootIdsByApi
    this.deprecatedSince = deprecatedSince
    this.#builds = builds
  }

  #compile(api: ConfigModel['apis'][number], build: (config: EndpointConfig, id: string) => Endpoint, roots: Endpoint[], deprecatedSince: number | undefined): CompiledApi {
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
      let template = this.#templates.get(resource.uriTemplate)
      if (!template) this.#templates.set(resource.uriTemplate, (template = this.#previousTemplates?.get(resource.uriTemplate) ?? new ResourceTemplate(resource.uriTemplate)))
      return new CompiledResource(api, resource, resourceEndpoints, filterChain(api, resource, filterLimits(this.config)), template)
    })
    return new CompiledApi(api, resources, deprecatedSince)
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

  /** Endpoints of this snapshot that `next` no longer uses: safe to close once their requests finish. */
  retiredBy(next: Snapshot): Endpoint[] {
    const kept = new Set(next.endpoints.values())
    return [...new Set(this.endpoints.values())].filter((endpoint) => !kept.has(endpoint))
  }
}
