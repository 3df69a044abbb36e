import type { LifecycleState } from '../config/lifecycle.ts'
import { HTTP_METHODS, type ApiConfig, type Environment, type ResourceConfig } from '../config/schema.ts'
import type { Endpoint, Exchange, ExchangeRoute } from '../core/endpoint.ts'
import { envelopeCheck } from '../soap/envelope-check.ts'
import { soapFaultFormatter } from '../soap/fault.ts'
import type { ErrorFormatter, GatewayErrorCode } from '../core/errors.ts'
import { Mediation } from '../mediation/run.ts'
import { ResourceTemplate, type UriVariables } from '../core/uri-template.ts'

/** A resource ready to serve: its template, methods, endpoints per environment and metric handles. */
export class CompiledResource {
  readonly template: ResourceTemplate
  readonly route: ExchangeRoute
  readonly endpoints: Partial<Record<Environment, Endpoint>>
  readonly #methods: ReadonlySet<string>
  readonly allowed: readonly string[]
  /** The IN and OUT sequences of the API and this resource; undefined when there are none. */
  readonly mediation: Mediation | undefined

  constructor(api: ApiConfig, config: ResourceConfig, endpoints: Partial<Record<Environment, Endpoint>>) {
    this.template = new ResourceTemplate(config.uriTemplate)
    this.route = { apiName: api.name, apiVersion: api.version, uriTemplate: config.uriTemplate }
    this.endpoints = endpoints
    this.mediation = Mediation.compile(api, config)
    // "All methods" means the ones an API describes; TRACE (cross-site tracing) and CONNECT (tunnels) never pass.
    const methods = new Set<string>(config.methods ?? HTTP_METHODS)
    if (methods.has('GET')) methods.add('HEAD')
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

/** Why a request check refused a request; answered as that gateway error. */
export interface RequestRejection {
  code: GatewayErrorCode
  message: string
}

/** Looks at a request before it goes to the endpoint, and may refuse it. */
export type RequestCheck = (exchange: Exchange) => Promise<RequestRejection | undefined>

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
  /** Runs on every request before its endpoint (SOAP envelope validation). */
  readonly checkRequest: RequestCheck | undefined

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
    this.errorFormatter = config.soap ? soapFaultFormatter : undefined
    this.checkRequest = config.soap?.validate ? envelopeCheck(config.soap.maxEnvelopeBytes) : undefined
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
