import type { IncomingHttpHeaders } from 'node:http'
import type { Readable } from 'node:stream'
import type { ExchangeTrace } from './trace.ts'
import type { UriVariables } from './uri-template.ts'

/**
 * Why a backend call failed, decided once at the leaf. Groups, suspension, metrics and the client's error
 * response all read this instead of inspecting errors again.
 */
export type FailureKind =
  | 'connect-refused' // nothing listens: the backend never saw the request
  | 'connect-failed' // host or network unreachable
  | 'connect-timeout' // no connection within the connect timeout
  | 'dns' // the host name did not resolve
  | 'tls' // TLS handshake or certificate failure
  | 'read-timeout' // no response (or body chunk) within the response timeout
  | 'reset' // the connection closed or reset before the response completed
  | 'protocol' // the backend spoke something other than HTTP
  | 'status' // the backend answered with a status configured as a failure
  | 'client-body' // the client's request body was broken (length mismatch, aborted upload)
  | 'aborted' // the client went away; not the backend's fault
  | 'unavailable' // no endpoint could take the request (all suspended, none configured)
  | 'soap-fault' // the backend answered with a SOAP Fault, and its endpoint counts Faults as failures
  | 'auth' // the backend refused the gateway's credentials, or none could be obtained (token endpoint)
  | 'no-target' // a dynamic endpoint's mediation set no target address
  | 'target-refused' // a dynamic endpoint's target is outside its allow-list or a protected address

export class EndpointError extends Error {
  readonly kind: FailureKind
  readonly endpointId: string
  /** The backend's status, for kind `status`. */
  readonly status: number | undefined
  /**
   * The backend's complete (buffered) response when the failure still has an answer for the client: a SOAP
   * Fault counted as a failure is passed through to the client once no other endpoint can do better.
   */
  readonly response: BackendResponse | undefined
  /** What went wrong in words safe to show the client (no secrets, no internals), e.g. the backend's 401 reason. */
  readonly reason: string | undefined

  constructor(
    kind: FailureKind,
    endpointId: string,
    message: string,
    options: { cause?: unknown; status?: number; response?: BackendResponse; reason?: string } = {},
  ) {
    super(message, { cause: options.cause })
    this.name = 'EndpointError'
    this.kind = kind
    this.endpointId = endpointId
    this.status = options.status
    this.response = options.response
    this.reason = options.reason
  }
}

/** Every API may have a production and a sandbox endpoint; a request reaches one of them. */
export const ENVIRONMENTS = ['production', 'sandbox'] as const
export type Environment = (typeof ENVIRONMENTS)[number]

/** The API and resource a request matched, as endpoints see them. */
export interface ExchangeRoute {
  readonly apiName: string
  readonly apiVersion: string
  readonly uriTemplate: string
}

/** One request on its way to a backend, and what the flow learned about it so far. */
export interface Exchange {
  readonly requestId: string
  readonly method: string
  /** The request path below the API's base path, still percent-encoded, e.g. `/menu/42`; a rewrite mediator may change it. */
  path: string
  /** The path under which the client reached the API, e.g. `/pizzashack/1.0.0` (a served WSDL's address uses it). */
  readonly basePath: string
  /** The raw query string without `?`, empty when there is none; a rewrite mediator may change it. */
  query: string
  readonly uriVariables: UriVariables
  /** Headers for the backend as name/value pairs in one flat list, hop-by-hop headers removed. */
  headers: string[]
  /** The request body: the client's stream, a buffered copy that can be sent again, or none. */
  body: Readable | Buffer | null
  readonly route: ExchangeRoute
  readonly environment: Environment
  /** Values that mediators set, visible to later mediators, URI templates and the OUT flow. */
  readonly properties: Map<string, unknown>
  /** The address chosen for a dynamic endpoint. */
  target: string | undefined
  readonly client: { readonly address: string; readonly protocol: 'http' | 'https'; readonly host: string }
  /** The exchange's trace when tracing is on and the request is sampled; see ExchangeTrace. */
  readonly trace?: ExchangeTrace | undefined
}

export interface BackendResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Null when the response has no body to stream. */
  body: Readable | null
}

/** What the console and `/metrics` show about an endpoint. */
export interface EndpointStatus {
  id: string
  type: string
  state: string
  [detail: string]: unknown
  children?: EndpointStatus[]
}

export interface Endpoint {
  readonly id: string
  /** Whether this endpoint serves only APIs still being designed (CREATED or PROTOTYPED): a mock or a prototype backend. */
  readonly isPrototype: boolean
  /**
   * Deliver the exchange and return the backend's response, or throw an EndpointError whose `kind`
   * lets groups and suspension decide what counts as a failure.
   */
  send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse>
  /** The request target (path and query) a leaf sends for this exchange: what Digest authentication signs. */
  targetPath?(exchange: Exchange): string
  /** Can it take traffic now? */
  ready(now: number): boolean
  describe(): EndpointStatus
  /** Release pools and timers once in-flight requests have finished. */
  close(): Promise<void>
}
