import { z } from 'zod'
import { Duration } from '../core/duration.ts'
import { Endpoint } from '../endpoints/schema.ts'
import { LIFECYCLE_STATES, servesLiveTraffic, type LifecycleState } from './lifecycle.ts'
import { SoapApi } from '../soap/schema.ts'
import { endpointNodes, leafIssues } from '../endpoints/tree.ts'
import { formatPath } from './path.ts'
import { templateVariables } from '../core/uri-template.ts'
import { ENVIRONMENTS, type Environment } from '../core/endpoint.ts'
import { MediationLimits, sequenceFields } from '../mediation/schema.ts'
import { checkPrototypeResources } from '../prototype/config.ts'
import { ApiSecurity, Cors, resourceAccessFields } from '../access/schema.ts'
import { ListenerTls, RedirectToHttps } from '../security/listener-tls-schema.ts'
import { duplicatePolicies, Throttling, throttlingFields, unknownPolicies, type ThrottlingConfig } from '../throttling/schema.ts'
import { Telemetry } from '../telemetry/schema.ts'

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const
export type HttpMethod = (typeof HTTP_METHODS)[number]

export { ENVIRONMENTS, type Environment }

const Method = z
  .string()
  .transform((method) => method.toUpperCase())
  .pipe(z.enum(HTTP_METHODS, { error: `must be one of ${HTTP_METHODS.join(', ')}` }))

const Listener = z.strictObject({
  name: z.string().min(1).default('default'),
  host: z.string().min(1).default('0.0.0.0'),
  port: z.number().int().min(0).max(65535),
  /** The environment of requests on this listener unless they ask for the other one. */
  environment: z.enum(ENVIRONMENTS).default('production'),
  /** Whether a request may choose its environment with the `X-Portico-Environment` header. */
  environmentHeader: z.boolean().default(true),
  /** HTTPS on this listener (docs/tls.md). */
  tls: ListenerTls.optional(),
  /** With `tls`: offer HTTP/2 by ALPN beside HTTP/1.1. */
  http2: z.boolean().default(true),
  /** Without `tls`: speak cleartext HTTP/2 (h2c, prior knowledge) instead of HTTP/1.1. */
  h2c: z.boolean().default(false),
  /** Without `tls`: send every request to HTTPS with a 308 instead of serving it. */
  redirectToHttps: RedirectToHttps.optional(),
}).superRefine((listener, ctx) => {
  if (listener.tls && listener.h2c) ctx.addIssue({ code: 'custom', path: ['h2c'], message: 'is for listeners without tls; a TLS listener offers HTTP/2 by ALPN (http2)' })
  if (listener.tls && listener.redirectToHttps) ctx.addIssue({ code: 'custom', path: ['redirectToHttps'], message: 'is for listeners without tls: this listener serves HTTPS itself' })
  if (listener.h2c && listener.redirectToHttps) ctx.addIssue({ code: 'custom', path: ['redirectToHttps'], message: 'cannot be combined with h2c' })
})

/** Addresses only this machine can reach; the admin port has no authentication or TLS yet. */
const LOOPBACK = /^(127(\.\d{1,3}){3}|::1|\[::1\]|localhost)$/i

const Admin = z
  .strictObject({
    enabled: z.boolean().default(true),
    host: z.string().min(1).default('127.0.0.1'),
    port: z.number().int().min(0).max(65535).default(9901),
    /** Allow `host` to be an address other machines can reach: anyone who reaches it reads metrics and endpoint states. */
    allowRemote: z.boolean().default(false),
  })
  .refine((admin) => !admin.enabled || admin.allowRemote || LOOPBACK.test(admin.host), {
    path: ['host'],
    message:
      'is not a loopback address: the admin port has no authentication or TLS, so anyone who reaches it reads metrics and endpoint states; bind it to 127.0.0.1, or set admin.allowRemote: true to accept that',
  })

const AccessLog = z.strictObject({
  enabled: z.boolean().default(true),
  /** A file to append JSON lines to; standard output when unset. */
  path: z.string().min(1).optional(),
})

/** Protection against malformed, oversized and slow clients. */
const Limits = z.strictObject({
  maxHeaderBytes: z.number().int().min(1024).max(1_048_576).default(16_384),
  maxHeaders: z.number().int().min(8).max(2000).default(100),
  /** Requests one HTTP/2 connection may have in flight at once (the SETTINGS_MAX_CONCURRENT_STREAMS it announces). */
  maxConcurrentStreams: z.number().int().min(1).max(10_000).default(100),
  /** Time a client has to send all request headers (slowloris guard). */
  headersTimeout: Duration.default(10_000),
  /** Time a client has to send the whole request, body included; 0 turns it off. */
  requestTimeout: Duration.default(300_000),
  keepAliveTimeout: Duration.default(5_000),
  /** On shutdown, how long requests in flight may take to finish before their connections are cut. */
  shutdownTimeout: Duration.default(30_000),
  /**
   * A request body with a Content-Length up to this many bytes is read before the backend is called and sent in
   * one piece; larger and chunked bodies are streamed. 0 streams every body.
   */
  inMemoryBodyBytes: z.number().int().min(0).max(16_777_216).default(65_536),
  ...MediationLimits,
})

const Endpoints = z.strictObject({
  production: Endpoint.optional(),
  sandbox: Endpoint.optional(),
})

const UriTemplate = z
  .string()
  .regex(/^\/[^\s?#]*$/, 'must start with "/" and contain no spaces, "?" or "#"')
  .superRefine((template, ctx) => {
    try {
      templateVariables(template)
    } catch (error) {
      ctx.addIssue({ code: 'custom', message: (error as Error).message })
    }
  })

const Resource = z.strictObject({
  /** `/menu/{itemId}`, `/orders/*`: `{name}` is one path segment, a trailing `/*` any rest. */
  uriTemplate: UriTemplate,
  /** Methods this resource accepts; all when unset. GET implies HEAD. */
  methods: z.array(Method).min(1).optional(),
  /** Endpoints for this resource only, replacing the API's. */
  endpoints: Endpoints.optional(),
  ...sequenceFields,
  ...resourceAccessFields,
  ...throttlingFields,
})

const Deprecation = z.strictObject({
  /** When the API was deprecated (sent as the `Deprecation` header, RFC 9745). */
  since: z.iso.datetime({ offset: true }).optional(),
  /** When the API will stop answering (sent as the `Sunset` header, RFC 8594). */
  sunset: z.iso.datetime({ offset: true }).optional(),
  /** A page that explains the deprecation (sent as `Link: <...>; rel="deprecation"`). */
  link: z.url().optional(),
})

export const Api = z.strictObject({
  name: z.string().min(1).max(200),
  /** The path the API is served under, e.g. `/pizzashack`; may hold `{version}` to place the version. */
  context: z
    .string()
    .regex(/^\/[A-Za-z0-9._~!$&'()*+,;=:@%{}/-]*$/, 'must start with "/" and be a URL path')
    .refine((context) => context === '/' || !context.endsWith('/'), 'must not end with "/"'),
  version: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'must be 1-64 letters, digits or "._-"'),
  /** Also serve this version without the version in the path. */
  defaultVersion: z.boolean().default(false),
  /** PRE-RELEASED is WSO2 4.1's name for PROTOTYPED, accepted as such. */
  lifecycle: z
    .enum([...LIFECYCLE_STATES, 'PRE-RELEASED'])
    .transform((state): LifecycleState => (state === 'PRE-RELEASED' ? 'PROTOTYPED' : state))
    .default('PUBLISHED'),
  deprecation: Deprecation.optional(),
  resources: z.array(Resource).min(1).default([{ uriTemplate: '/*' }]),
  endpoints: Endpoints.default({}),
  /** Makes this a SOAP API: gateway errors become SOAP Faults; optional envelope validation (docs/soap.md). */
  soap: SoapApi.optional(),
  /** Consumer authentication (docs/access.md): without it the API is open, as it always was. */
  security: ApiSecurity.optional(),
  /** CORS answered at the gateway (docs/access.md#cors). */
  cors: Cors.optional(),
  ...sequenceFields,
  ...throttlingFields,
})

/** Everything but the APIs. */
const sections = {
  listeners: z.array(Listener).min(1).default([{ name: 'default', host: '0.0.0.0', port: 8280, environment: 'production', environmentHeader: true, http2: true, h2c: false }]),
  admin: Admin.prefault({}),
  accessLog: AccessLog.prefault({}),
  limits: Limits.prefault({}),
  /** Rate limits, quotas and burst control (docs/throttling.md). */
  throttling: Throttling.prefault({}),
  telemetry: Telemetry.prefault({}),
}

export const Config = z
  .strictObject({ ...sections, apis: z.array(Api).default([]) })
  .superRefine((config, ctx) => config.apis.forEach((api, index) => checkApi(api, index, ctx)))
  .superRefine(checkAcrossApis)
  .superRefine(checkThrottling)
  .superRefine(checkPorts)

/**
 * The config without its APIs, and what `Config` checks of each API alone and of the APIs together: the parts a
 * reader that validates only the APIs that changed puts back together (config/reader.ts). Validating the sections
 * with `ConfigSections`, each API with `Api` and `checkApi`, and the whole with `checkAssembled` accepts exactly
 * what `Config` accepts.
 */
export const ConfigSections = z.strictObject(sections).superRefine(checkPorts)

/** Problems of a config put together from checked sections and checked APIs: the rules across APIs. */
export function checkAssembled(config: ConfigModel): { path: (string | number)[]; message: string }[] {
  const issues: { path: (string | number)[]; message: string }[] = []
  const sink = { addIssue: (issue: { path: (string | number)[]; message: string }) => issues.push(issue) } as unknown as IssueSink
  checkAcrossApis(config, sink)
  checkThrottling(config, sink)
  return issues
}

/** Where the checks put their problems: zod's refinement context, or a list. */
type IssueSink = Pick<z.RefinementCtx, 'addIssue'>

export type ConfigModel = z.output<typeof Config>
export type ApiConfig = z.output<typeof Api>
export type ResourceConfig = z.output<typeof Resource>
export type ListenerConfig = z.output<typeof Listener>
export type EndpointsConfig = z.output<typeof Endpoints>

const WILDCARD = new Set(['0.0.0.0', '::'])

/**
 * Two sockets of the config on one port: workers bind with SO_REUSEPORT, which would let them share it silently,
 * and one process would fail to start with a message that blames another program.
 */
function checkPorts(config: { listeners: ListenerConfig[]; admin: { enabled: boolean; host: string; port: number } }, ctx: IssueSink): void {
  const sockets = config.listeners.map((listener, index) => ({ host: listener.host, port: listener.port, path: ['listeners', index, 'port'], name: `listeners[${index}]` }))
  if (config.admin.enabled) sockets.push({ host: config.admin.host, port: config.admin.port, path: ['admin', 'port'], name: 'admin' })
  sockets.forEach((socket, index) => {
    if (socket.port === 0) return
    const other = sockets.slice(0, index).find((earlier) => earlier.port === socket.port && (earlier.host === socket.host || WILDCARD.has(earlier.host) || WILDCARD.has(socket.host)))
    if (other) ctx.addIssue({ code: 'custom', path: socket.path, message: `${socket.port} on ${socket.host} is taken by ${other.name} already` })
  })
}

/** Every policy an API or resource names is defined once, in `throttling.policies` or as a WSO2 tier. */
function checkThrottling(config: { throttling: ThrottlingConfig; apis: ApiConfig[] }, ctx: IssueSink): void {
  for (const { name, index } of duplicatePolicies(config.throttling)) {
    ctx.addIssue({ code: 'custom', path: ['throttling', 'policies', index, 'name'], message: `"${name}" is defined already` })
  }
  const check = (names: string[], path: (string | number)[]) => {
    for (const name of unknownPolicies(names, config.throttling)) {
      ctx.addIssue({ code: 'custom', path, message: `names policy "${name}", which throttling.policies does not define (nor is it a WSO2 default: Unlimited, Gold, Silver, Bronze, Unauthenticated, 50KPerMin, 20KPerMin, 10KPerMin)` })
    }
  }
  // Most APIs name no policy: nothing is made for them (this runs over thousands of APIs on every reload).
  config.apis.forEach((api, index) => {
    if (api.throttling) check(api.throttling.policies, ['apis', index, 'throttling', 'policies'])
    api.resources.forEach((resource, resourceIndex) => {
      if (resource.throttling) check(resource.throttling.policies, ['apis', index, 'resources', resourceIndex, 'throttling', 'policies'])
    })
  })
}

/** Rules across the APIs: each base path served once, each endpoint name used once. */
function checkAcrossApis(config: { apis: ApiConfig[] }, ctx: IssueSink): void {
  const basePaths = new Map<string, number>()
  const endpointNames = new Map<string, string>()
  config.apis.forEach((api, index) => {
    for (const path of apiBasePaths(api)) {
      const other = basePaths.get(path)
      if (other !== undefined) {
        ctx.addIssue({ code: 'custom', path: ['apis', index], message: `serves "${path}", which apis[${other}] serves already` })
      } else basePaths.set(path, index)
    }
    for (const environment of ENVIRONMENTS) {
      const endpoint = api.endpoints[environment]
      // A plain leaf without a name (most of thousands of APIs) has nothing to check.
      if (!endpoint || (!('name' in endpoint && endpoint.name) && !('endpoints' in endpoint))) continue
      // Names identify endpoints in metrics, logs and the admin view, group members included.
      for (const { node, path } of endpointNodes(endpoint, ['apis', index, 'endpoints', environment])) {
        const name = 'name' in node && typeof node.name === 'string' ? node.name : undefined
        if (!name) continue
        const where = formatPath(path)
        const other = endpointNames.get(name)
        if (other) ctx.addIssue({ code: 'custom', path: [...path, 'name'], message: `"${name}" is used by ${other} already` })
        else endpointNames.set(name, where)
      }
    }
  })
}

/** Rules across the fields of one API that a per-field schema cannot state. */
export function checkApi(api: ApiConfig, index: number, ctx: IssueSink): void {
  const unserved = unservedApiIssue(api)
  if (unserved) ctx.addIssue({ code: 'custom', path: ['apis', index, 'endpoints'], message: unserved })
  api.resources.forEach((resource, resourceIndex) => {
    for (const [i, scheme] of (resource.security ?? []).entries()) {
      if (!api.security?.[scheme]) {
        ctx.addIssue({ code: 'custom', path: ['apis', index, 'resources', resourceIndex, 'security', i], message: `names ${scheme}, which the API's security does not configure` })
      }
    }
    if ((resource.scopes?.length || resource.security?.length) && !api.security) {
      ctx.addIssue({ code: 'custom', path: ['apis', index, 'resources', resourceIndex, resource.scopes?.length ? 'scopes' : 'security'], message: 'needs the API\'s security: without it the API is open' })
    }
    let known: Set<string>
    try {
      known = new Set(templateVariables(resource.uriTemplate))
    } catch {
      // A malformed template is the uriTemplate field's own issue; these checks still run on an invalid config.
      return
    }
    for (const environment of ENVIRONMENTS) {
      const local = resource.endpoints?.[environment]
      const endpoint = local ?? api.endpoints[environment]
      if (!endpoint) continue
      const where = local
        ? ['apis', index, 'resources', resourceIndex, 'endpoints', environment]
        : ['apis', index, 'endpoints', environment]
      if (local) for (const issue of leafIssues(local, where)) ctx.addIssue({ code: 'custom', ...issue })
      for (const variable of endpointVariables(endpoint)) {
        if (!known.has(variable)) {
          ctx.addIssue({
            code: 'custom',
            path: [...where, 'url'],
            message: `uses {${variable}}, which resource "${resource.uriTemplate}" (apis[${index}].resources[${resourceIndex}]) does not define`,
          })
        }
      }
    }
  })
  for (const environment of ENVIRONMENTS) {
    const endpoint = api.endpoints[environment]
    if (endpoint?.type === 'prototype') checkPrototypeResources(endpoint, api.resources, ['apis', index, 'endpoints', environment], ctx)
    if (!endpoint) continue
    for (const issue of leafIssues(endpoint, ['apis', index, 'endpoints', environment])) ctx.addIssue({ code: 'custom', ...issue })
  }
}

/**
 * A live API (PUBLISHED or DEPRECATED) with no endpoint anywhere, on the API or any resource, would answer every
 * request with 404 ENVIRONMENT_NOT_CONFIGURED: almost surely a config (or an import) that lost its endpoints.
 */
function unservedApiIssue(api: ApiConfig): string | undefined {
  if (!servesLiveTraffic(api.lifecycle)) return undefined
  const has = (endpoints: EndpointsConfig | undefined) => ENVIRONMENTS.some((environment) => endpoints?.[environment] !== undefined)
  if (has(api.endpoints) || api.resources.some((resource) => has(resource.endpoints))) return undefined
  return `the API is ${api.lifecycle} but has no endpoint: every request would answer 404 ENVIRONMENT_NOT_CONFIGURED. Add endpoints.production (or sandbox), or set lifecycle: CREATED while it has none`
}

/** The paths an API answers under: context with version, and the bare context for the default version. */
export function apiBasePaths(api: Pick<ApiConfig, 'context' | 'version' | 'defaultVersion'>): string[] {
  const versioned = api.context.includes('{version}')
    ? api.context.replace('{version}', api.version)
    : `${api.context === '/' ? '' : api.context}/${api.version}`
  if (!api.defaultVersion) return [versioned]
  const bare = api.context.replace('/{version}', '').replace('{version}', '') || '/'
  return [versioned, bare]
}

/** URI template variables an endpoint uses, a group's children included. */
function endpointVariables(endpoint: object): string[] {
  if ('endpoints' in endpoint && Array.isArray(endpoint.endpoints)) return endpoint.endpoints.flatMap((child: object) => endpointVariables(child))
  if (!('url' in endpoint) || typeof endpoint.url !== 'string') return []
  const path = endpoint.url.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '')
  try {
    return templateVariables(path)
  } catch {
    // A malformed URL template is the url field's own issue.
    return []
  }
}
