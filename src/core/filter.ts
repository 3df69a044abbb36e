import type { IncomingHttpHeaders } from 'node:http'
import type { Logger } from 'pino'
import type { BackendResponse, Exchange } from './endpoint.ts'
import type { ErrorFormatter, GatewayErrorCode } from './errors.ts'

/** A whole response a filter answers with instead of the backend's: status, flat header list, body. */
export interface FilterReply {
  status: number
  headers: string[]
  body: Buffer
}

/** How a filter ends an exchange early: with its own reply, or with a gateway error (and headers to add). */
export type FilterStop =
  | { reply: FilterReply }
  /** `policy`: the policy that refused the request, for the access log (a rate limit's name). */
  | { code: GatewayErrorCode; message: string; headers?: readonly string[]; policy?: string }

/** What the running gateway lends a filter for one exchange. */
export interface FilterContext {
  readonly logger: Logger
}

/** What a filter's hook answers: a stop, nothing (go on), or a promise of either. */
export type FilterAnswer = FilterStop | undefined | Promise<FilterStop | undefined>

/**
 * One step of what an API does around its endpoint, as Envoy's HTTP filters: request checks, mediation, and
 * next consumer auth and throttling. A resource's filters are built with the snapshot; a request passes them in
 * order before its endpoint, the response in reverse order after it. Either hook may end the exchange.
 */
export interface ApiFilter {
  /** Names the filter's spans in a trace (`mediation request`, `mediation response`); `filter` when unset. */
  readonly name?: string
  /** A hook that can decide at once returns its answer, not a promise: the pipeline awaits only promises. */
  request?(exchange: Exchange, context: FilterContext): FilterAnswer
  response?(exchange: Exchange, response: BackendResponse, context: FilterContext): FilterAnswer
  /** Renders every gateway error of the API in its own format (a SOAP API's Faults) instead of JSON. */
  readonly formatError?: ErrorFormatter
  /**
   * Set by consumer authentication: the filter sets the exchange's environment (from the consumer's key type),
   * so the pipeline chooses the endpoint after the filters and ignores the client's environment header.
   */
  readonly choosesEnvironment?: boolean
  /** Headers every gateway error of the API carries (CORS, so a browser script can read a 401), given the request's. */
  readonly errorHeaders?: (requestHeaders: IncomingHttpHeaders) => readonly string[]
}
