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
  | 'at-capacity' // the leaf is at the request rate or concurrency the gateway allows it (backend protection)

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

/**
 * The client certificate a TLS listener verified against its `clientCertificates.ca` bundle (mTLS). Names are in
 * OpenSSL's one-line form, most significant last as written in the certificate: `CN=alice, O=Example, C=DE`.
 */
export interface ClientCertificate {
  readonly subject: string
  /** The subject's CN, the usual identity of a client; undefined when the subject has none. */
  readonly commonName: string | undefined
  readonly issuer: string
  /** Hex, upper case, as X509Certificate gives it. */
  readonly serialNumber: string
  /** SHA-256 of the DER certificate as colon-separated hex: what a pinning rule compares. */
  readonly fingerprint256: string
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
  /** Production or sandbox: the listener's or the client's choice, or the consumer's key type on an API with security. */
  environment: Environment
  /** Who called, once consumer authentication accepted a credential; undefined on an open API or resource. */
  consumer?: Consumer
  /** Values that mediators set, visible to later mediators, URI templates and the OUT flow. */
  readonly properties: Map<string, unknown>
  /** The address chosen for a dynamic endpoint. */
  target: string | undefined
  readonly client: { readonly address: string; readonly protocol: 'http' | 'https'; readonly host: string }
  /** Set by the listener on an mTLS connection once the client's certificate is verified; absent otherwise. */
  readonly clientCertificate?: ClientCertificate
  /** The exchange's trace when tracing is on and the request is sampled; see ExchangeTrace. */
  readonly trace?: ExchangeTrace | undefined
}

/** The consumer a credential identified: what mediation, the access log and the backend's header may see. */
export interface Consumer {
  /** The token's `sub`, the API key's application, the Basic username or the certificate's subject. */
  readonly subject: string
  readonly application: string | undefined
  readonly keyType: 'PRODUCTION' | 'SANDBOX'
  readonly scopes: readonly string[]
  /** The scheme that accepted the credential: `oauth2`, `apiKey`, `basicAuth` or `mutualTls`. */
  readonly scheme: string
  /** The verified token's claims (or introspection result); empty for schemes without claims. */
  readonly claims: Readonly<Record<string, unknown>>
}

export interface BackendResponse {
  status: number
  headers: IncomingHttpHeaders
  /** Null when the response has no body to stream. */
  body: Readable | null
  /** Trailer fields, complete once `body` has ended (gRPC's status travels here). */
  trailers?: Record<string, string>
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
  /** A leaf with a suspension state puts it back to active (an operator's reset) and says true; others say false. */
  resetState?(reason: string): boolean
  /** Release pools and timers once in-flight requests have finished. */
  close(): Promise<void>
}
