import type { IncomingHttpHeaders } from 'node:http'
import type { LifecycleState } from '../config/lifecycle.ts'
import { HTTP_METHODS, type ApiConfig, type Environment, type ResourceConfig } from '../config/schema.ts'
import type { Endpoint, ExchangeRoute } from '../core/endpoint.ts'
import type { ErrorFormatter } from '../core/errors.ts'
import type { ApiFilter } from '../core/filter.ts'
import { ResourceTemplate, type UriVariables } from '../core/uri-template.ts'

/** A resource ready to serve: its template, methods, endpoints per environment and its API filters. */
export class CompiledResource {
  readonly template: ResourceTemplate
  readonly route: ExchangeRoute
  readonly endpoints: Partial<Record<Environment, Endpoint>>
  readonly #methods: ReadonlySet<string>
  readonly allowed: readonly string[]
  /** What the API does around the endpoint here (request checks, mediation), in the order a request passes. */
  readonly filters: readonly ApiFilter[]
  /** Consumer authentication decides the environment: the endpoint is chosen after the request filters. */
  readonly choosesEnvironment: boolean

  /** `template`: the compiled `config.uriTemplate`, which resources with the same template share. */
  constructor(api: ApiConfig, config: ResourceConfig, endpoints: Partial<Record<Environment, Endpoint>>, filters: readonly ApiFilter[], template = new ResourceTemplate(config.uriTemplate)) {
    this.template = template
    this.route = { apiName: api.name, apiVersion: api.version, uriTemplate: config.uriTemplate }
    this.endpoints = endpoints
    this.filters = filters
    this.choosesEnvironment = filters.some((filter) => filter.choosesEnvironment)
    // "All methods" means the ones an API describes; TRACE (cross-site tracing) and CONNECT (tunnels) never pass.
    const methods = new Set<string>(config.methods ?? HTTP_METHODS)
    if (methods.has('GET')) methods.add('HEAD')
    // A CORS preflight is an OPTIONS to a resource that may accept only GET: the CORS filter answers it.
    if (api.cors) methods.add('OPTIONS')
    this.#methods = methods
    this.allowed = [...methods]
  }

  accepts(method: string): boolean {
    return this.#methods.has(method)
  }
}

export type ResourceMatch =
  | { resource: CompiledResource; variables: UriVariables }
  | { allowed: string[] }
  | undefined

export class CompiledApi {
  readonly name: string
  readonly version: string
  /** `name:version`, the API's label in metrics and logs. */
  readonly key: string
  readonly lifecycle: LifecycleState
  /** `Deprecation`, `Sunset` and `Link` for a DEPRECATED API, as a flat header list. */
  readonly lifecycleHeaders: readonly string[]
  readonly resources: readonly CompiledResource[]
  /** Renders the API's gateway errors when they are not JSON (SOAP Faults for a SOAP API). */
  readonly errorFormatter: ErrorFormatter | undefined
  /** Headers the API adds to its gateway errors (CORS), from the request's headers. */
  readonly errorHeaders: ((requestHeaders: IncomingHttpHeaders) => readonly string[]) | undefined

  constructor(config: ApiConfig, resources: CompiledResource[], deprecatedSince: number | undefined) {
    this.name = config.name
    this.version = config.version
    this.key = `${config.name}:${config.version}`
    this.lifecycle = config.lifecycle
    // The most specific template wins; equal ones keep their order in the config.
    this.resources = resources
      .map((resource, index) => ({ resource, index }))
      .sort((a, b) => b.resource.template.specificity - a.resource.template.specificity || a.index - b.index)
      .map(({ resource }) => resource)
    this.lifecycleHeaders = config.lifecycle === 'DEPRECATED' ? deprecationHeaders(config, deprecatedSince) : []
    // A filter that renders errors reads only the API's config, so every resource's chain has the same one; it
    // also formats the errors answered before any resource matched.
    this.errorFormatter = resources[0]?.filters.find((filter) => filter.formatError)?.formatError
    this.errorHeaders = resources[0]?.filters.find((filter) => filter.errorHeaders)?.errorHeaders
  }

  /** The resource for a method and path, the methods allowed there (for 405), or undefined (no resource). */
  match(method: string, path: string): ResourceMatch {
    let allowed: Set<string> | undefined
    for (const resource of this.resources) {
      const variables = resource.template.match(path)
      if (!variables) continue
      if (resource.accepts(method)) return { resource, variables }
      allowed ??= new Set()
      for (const m of resource.allowed) allowed.add(m)
    }
    return allowed ? { allowed: [...allowed] } : undefined
  }
}

function deprecationHeaders(config: ApiConfig, deprecatedSince: number | undefined): string[] {
  const since = config.deprecation?.since ? Date.parse(config.deprecation.since) : deprecatedSince ?? Date.now()
  const headers = ['deprecation', `@${Math.floor(since / 1000)}`]
  if (config.deprecation?.sunset) headers.push('sunset', new Date(config.deprecation.sunset).toUTCString())
  if (config.deprecation?.link) headers.push('link', `<${config.deprecation.link}>; rel="deprecation"`)
  return headers
}
