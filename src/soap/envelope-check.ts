import type { Exchange } from '../core/endpoint.ts'
import type { FilterStop } from '../core/filter.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { envelopeProblemOffLoop } from './envelope-thread.ts'
import { contentTypeSoapVersion } from './version.ts'
import { isMultipartRelated, rootPart } from './multipart-related.ts'
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
    const contentType = flatHeader(exchange.headers, 'content-type')
    let envelope = body
    let expected = contentTypeSoapVersion(contentType)
    // MTOM and SOAP with Attachments: the envelope is the root part; the other parts are what it refers to.
    if (isMultipartRelated(contentType)) {
      const root = await rootPart(body, contentType!)
      if ('problem' in root) return { code: 'BAD_REQUEST', message: `The request is not a valid SOAP message: ${root.problem}` }
      envelope = root.body
      expected = contentTypeSoapVersion(root.headers.get('content-type')) ?? expected
    }
    const problem = await envelopeProblemOffLoop(envelope, expected)
    return problem ? { code: 'BAD_REQUEST', message: `The request is not a valid SOAP envelope: ${problem}` } : undefined
  }
}
