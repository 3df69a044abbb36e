import { readBody } from '../core/body.ts'
import type { Exchange } from '../core/endpoint.ts'

/** Prototypes answer from the whole request body, so they hold it in memory; this bounds how much. */
export const MAX_PROTOTYPE_BODY_BYTES = 1_048_576

/** A request as a prototype sees it: everything read and decoded once. */
export interface PrototypeRequest {
  readonly requestId: string
  readonly method: string
  /** The path below the API's base path, still percent-encoded. */
  readonly path: string
  /** Variables of the API resource's URI template. */
  readonly uriVariables: Readonly<Record<string, string>>
  readonly query: URLSearchParams
  /** Header names in lower case; repeated headers joined with ", " (cookies with "; "). */
  readonly headers: Readonly<Record<string, string>>
  readonly body: Buffer
}

/** Reads the exchange, body included (up to MAX_PROTOTYPE_BODY_BYTES). */
export async function readPrototypeRequest(exchange: Exchange, signal: AbortSignal): Promise<PrototypeRequest> {
  return {
    requestId: exchange.requestId,
    method: exchange.method,
    path: exchange.path || '/',
    uriVariables: exchange.uriVariables,
    query: new URLSearchParams(exchange.query),
    headers: headerRecord(exchange.headers),
    body: await readBody(exchange.body, MAX_PROTOTYPE_BODY_BYTES, { signal }),
  }
}

function headerRecord(flat: readonly string[]): Record<string, string> {
  const headers: Record<string, string> = {}
  for (let i = 0; i + 1 < flat.length; i += 2) {
    const name = flat[i]!.toLowerCase()
    const value = flat[i + 1]!
    const previous = headers[name]
    headers[name] = previous === undefined ? value : `${previous}${name === 'cookie' ? '; ' : ', '}${value}`
  }
  return headers
}

