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
export type FilterStop = { reply: FilterReply } | { code: GatewayErrorCode; message: string; headers?: readonly string[] }

/** What the running gateway lends a filter for one exchange. */
export interface FilterContext {
  readonly logger: Logger
}

/**
 * One step of what an API does around its endpoint, as Envoy's HTTP filters: request checks, mediation, and
 * next consumer auth and throttling. A resource's filters are built with the snapshot; a request passes them in
 * order before its endpoint, the response in reverse order after it. Either hook may end the exchange.
 */
export interface ApiFilter {
  /** Names the filter's spans in a trace (`mediation request`, `mediation response`); `filter` when unset. */
  readonly name?: string
  request?(exchange: Exchange, context: FilterContext): Promise<FilterStop | undefined>
  response?(exchange: Exchange, response: BackendResponse, context: FilterContext): Promise<FilterStop | undefined>
  /** Renders every gateway error of the API in its own format (a SOAP API's Faults) instead of JSON. */
  readonly formatError?: ErrorFormatter
}
