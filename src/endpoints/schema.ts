import { z } from 'zod'
import { Duration } from '../core/duration.ts'
import { templateVariables } from '../core/uri-template.ts'
import { checkLambda, lambdaFields } from '../lambda/schema.ts'
import { RestToSoap, soapLeafFields } from '../soap/schema.ts'
import { EndpointName } from './endpoint-name.ts'
import { Capacity } from './capacity-schema.ts'
import { FailoverEndpoint, holdEndpoints, LoadBalanceEndpoint } from './group-schema.ts'
import { resilienceFields } from '../resilience/schema.ts'
import { BackendSecurity } from '../security/schema.ts'
import { checkPrototype, prototypeFields } from '../prototype/config.ts'

export { EndpointName }

export const Timeouts = z.strictObject({
  /** Time to open the TCP (and TLS) connection. */
  connect: Duration.default(5_000),
  /** Time from sending the request until the response headers arrive (WSO2's endpoint timeout). */
  response: Duration.default(60_000),
  /** Longest silence between two chunks of the response body. */
  idle: Duration.default(60_000),
})

const Pool = z.strictObject({
  /** Most connections to the backend origin; unset means as many as the load needs. */
  connections: z.number().int().positive().optional(),
  /** How long an idle keep-alive connection stays open (capped by the backend's Keep-Alive hint). */
  keepAlive: Duration.default(4_000),
})

/**
 * Fields every leaf endpoint type has (http, soap, wsdl, dynamic, lambda, ...): spread into each leaf's schema,
 * so that what applies to every leaf (suspension, health checks, backend security) is declared once.
 */
export const leafFields = {
  name: EndpointName.optional(),
  timeouts: Timeouts.prefault({}),
  ...resilienceFields,
  /** Credentials and TLS settings the gateway uses towards the backend (docs/security.md). */
  security: BackendSecurity.optional(),
  /** Backend protection: most requests per second and in flight to this leaf (docs/throttling.md). */
  capacity: Capacity.optional(),
}

/**
 * A REST backend. `url` is either a URI template whose `{var}` (or WSO2's `{uri.var.var}`) come from the
 * resource's URI template, or a base URL to which the request's path below the API is appended.
 */
export const HttpEndpoint = z.strictObject({
  type: z.literal('http'),
  ...leafFields,
  url: z.string().superRefine((url, ctx) => {
    const problem = httpUrlProblem(url)
    if (problem) ctx.addIssue({ code: 'custom', message: problem })
  }),
  pool: Pool.prefault({}),
  /** Offer HTTP/2 to an https:// backend (chosen by ALPN; HTTP/1.1 when the backend declines). */
  http2: z.boolean().default(false),
})

/** A SOAP service at a direct URL: SOAP 1.1 and 1.2 envelopes pass through unchanged (docs/soap.md). */
export const SoapEndpoint = z.strictObject({
  type: z.literal('soap'),
  ...leafFields,
  ...soapLeafFields,
  url: HttpEndpoint.shape.url,
  pool: Pool.prefault({}),
  rest: RestToSoap.optional(),
})

/**
 * A SOAP service whose address a WSDL (file or http(s) URL) names for `service` and `port` (docs/soap.md). The
 * file is read by the loader's checks (`file-checks.ts`), not here: a schema reads nothing.
 */
export const WsdlEndpoint = z
  .strictObject({
    type: z.literal('wsdl'),
    ...leafFields,
    ...soapLeafFields,
    /** A file path, or a URL checked as an http endpoint's is (no credentials in it: `security.auth` reads it). */
    wsdl: z
      .string()
      .min(1)
      .superRefine((wsdl, ctx) => {
        const problem = /^https?:\/\//i.test(wsdl) ? httpUrlProblem(wsdl) : undefined
        if (problem) ctx.addIssue({ code: 'custom', message: problem })
      }),
    service: z.string().min(1),
    port: z.string().min(1),
    /** The gateway's URL as clients see it (behind a TLS-terminating proxy), for the served WSDL's addresses. */
    publicUrl: z
      .url({ protocol: /^https?$/, error: 'must be an http:// or https:// URL' })
      .refine((url) => !/[?#]/.test(url), 'must not have a query or fragment')
      .transform((url) => url.replace(/\/+$/, ''))
      .optional(),
    pool: Pool.prefault({}),
    rest: RestToSoap.optional(),
  })

export function httpUrlProblem(url: string): string | undefined {
  const origin = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(url)?.[0]
  if (!origin) return `must be an absolute http:// or https:// URL, got "${url}"`
  if (origin.includes('{')) return 'URI template variables may appear in the path and query only, not in the host'
  let parsed: URL
  try {
    parsed = new URL(url.replace(/\{[^}]*\}/g, 'x'))
  } catch {
    return `is not a valid URL: "${url}"`
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:') return `must use http or https, got "${parsed.protocol}"`
  if (parsed.hash) return 'must not contain a fragment (#...)'
  if (parsed.username || parsed.password) return 'must not carry credentials; configure backend security instead'
  try {
    templateVariables(url.slice(origin.length))
  } catch (error) {
    return (error as Error).message
  }
  return undefined
}

/** An AWS Lambda function, invoked through the Lambda Invoke API (see docs/lambda.md). */
export const LambdaEndpoint = z.strictObject({ type: z.literal('lambda'), ...leafFields, ...lambdaFields }).superRefine(checkLambda)

/** An origin a dynamic endpoint may reach. */
const AllowedOrigin = z.strictObject({
  /** A host name or IP address, or `*.example.com` for every name below example.com. */
  host: z
    .string()
    .transform((host) => host.toLowerCase())
    .pipe(z.string().regex(/^(?:\*\.)?[a-z0-9._:[\]-]+$/, 'must be a host name, an IP address or "*.domain"')),
  schemes: z.array(z.enum(['http', 'https'])).min(1).default(['http', 'https']),
  /** The ports allowed on that host; every port when unset. */
  ports: z.array(z.number().int().min(1).max(65535)).min(1).optional(),
})

/**
 * A backend whose address the API's IN sequence chooses per request (`setTarget`), limited to an allow-list of
 * origins so that no request turns the gateway into an open proxy.
 */
export const DynamicEndpoint = z.strictObject({
  type: z.literal('dynamic'),
  ...leafFields,
  allow: z.array(AllowedOrigin).min(1, 'must list at least one allowed origin'),
  /** Reach link-local addresses (169.254.0.0/16, fe80::/10) and cloud metadata services. */
  allowLinkLocal: z.boolean().default(false),
  /** Reach the gateway's own admin port. */
  allowAdminPort: z.boolean().default(false),
  /** Most origins with an open connection pool; the least recently used one is closed beyond it. */
  maxOrigins: z.number().int().min(1).max(100_000).default(256),
  pool: Pool.prefault({}),
})

/**
 * What answers for an API still being designed: mocks (static responses, scripts, an OpenAPI document), or, as
 * WSO2's Prototype endpoint is, a backend `url` that takes everything an `http` endpoint takes.
 */
export const PrototypeEndpoint = z
  .strictObject({
    type: z.literal('prototype'),
    ...leafFields,
    ...prototypeFields,
    url: HttpEndpoint.shape.url.optional(),
    /** Used with `url` only. */
    pool: Pool.optional(),
  })
  .superRefine(checkPrototype)

/** Every endpoint type, told apart by `type`. */
export const Endpoint = z.discriminatedUnion('type', [
  HttpEndpoint,
  SoapEndpoint,
  WsdlEndpoint,
  LambdaEndpoint,
  FailoverEndpoint,
  LoadBalanceEndpoint,
  DynamicEndpoint,
  PrototypeEndpoint,
])
holdEndpoints(Endpoint)

export type HttpEndpointConfig = z.output<typeof HttpEndpoint>
export type LambdaEndpointConfig = z.output<typeof LambdaEndpoint>
export type SoapEndpointConfig = z.output<typeof SoapEndpoint>
export type WsdlEndpointConfig = z.output<typeof WsdlEndpoint>
export type DynamicEndpointConfig = z.output<typeof DynamicEndpoint>
export type PrototypeEndpointConfig = z.output<typeof PrototypeEndpoint>
/** What every leaf's config has. */
export type LeafConfig = z.output<z.ZodObject<typeof leafFields>>
export type EndpointConfig = z.output<typeof Endpoint>
