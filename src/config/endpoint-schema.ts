import { z } from 'zod'
import { Duration } from './duration.ts'
import { checkPrototype, prototypeFields } from '../prototype/config.ts'

/** Names that show up in metrics and logs: letters, digits and `._:-`. */
export const EndpointName = z
  .string()
  .regex(/^[A-Za-z0-9._:-]{1,128}$/, 'must be 1-128 letters, digits or "._:-"')

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
  return undefined
}

/** A mock that answers for an API still being designed: static responses, scripts, an OpenAPI document. */
export const PrototypeEndpoint = z
  .strictObject({ type: z.literal('prototype'), ...leafFields, ...prototypeFields })
  .superRefine(checkPrototype)

/** Every endpoint type, told apart by `type`. */
export const Endpoint = z.discriminatedUnion('type', [HttpEndpoint, PrototypeEndpoint])

export type HttpEndpointConfig = z.output<typeof HttpEndpoint>
export type PrototypeEndpointConfig = z.output<typeof PrototypeEndpoint>
/** What every leaf's config has. */
export type LeafConfig = z.output<z.ZodObject<typeof leafFields>>
export type EndpointConfig = z.output<typeof Endpoint>
