import type { Exchange } from '../core/endpoint.ts'
import type { FilterStop } from '../core/filter.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { envelopeProblemOffLoop } from './envelope-thread.ts'
import type { SoapVersion } from './version.ts'
import { flatHeader } from '../core/headers.ts'

/** Why the check refused a request: the gateway error it is answered with. */
type RequestRejection = Extract<FilterStop, { code: unknown }>
type RequestCheck = (exchange: Exchange) => Promise<RequestRejection | undefined>

/**
 * A request check for SOAP APIs: a POST must carry a well-formed SOAP envelope (no DTD, an `Envelope` root in
 * the SOAP 1.1 or 1.2 namespace that matches the content type, with a `Body`). The body is buffered up to
 * `maxBytes` and handed on as a buffer, which also lets a failover group send it again. A large one is parsed
 * off the event loop.
 */
export function envelopeCheck(maxBytes: number): RequestCheck {
  return async (exchange: Exchange): Promise<RequestRejection | undefined> => {
    if (exchange.method !== 'POST') return undefined
    let body: Buffer
    try {
      body = await readBody(exchange.body, maxBytes)
    } catch (error) {
      if (error instanceof BodyTooLarge) return { code: 'PAYLOAD_TOO_LARGE', message: `The SOAP envelope is ${error.message}` }
      return { code: 'BAD_REQUEST', message: 'The request body could not be read to the end' }
    }
    exchange.body = body
    const expected = contentTypeVersion(exchange.headers)
    const problem = await envelopeProblemOffLoop(body, expected)
    return problem ? { code: 'BAD_REQUEST', message: `The request is not a valid SOAP envelope: ${problem}` } : undefined
  }
}

/** The SOAP version the content type names: `text/xml` is 1.1, `application/soap+xml` 1.2, others unknown. */
function contentTypeVersion(headers: readonly string[]): SoapVersion | undefined {
  const type = flatHeader(headers, 'content-type')?.trimStart().toLowerCase()
  if (type?.startsWith('application/soap+xml')) return '1.2'
  if (type?.startsWith('text/xml')) return '1.1'
  return undefined
}
