import { Readable } from 'node:stream'
import { HttpEndpoint as HttpEndpointSchema, type SoapEndpointConfig } from './schema.ts'
import { isSoapFaultOffLoop } from '../soap/envelope-thread.ts'
import { envelopeOf, isMultipartRelated } from '../soap/multipart-related.ts'
import { EndpointError, type BackendResponse, type Endpoint, type EndpointStatus, type Exchange } from '../core/endpoint.ts'
import { HttpEndpoint } from './http.ts'

/** Faults are small; a longer error response is passed on without being inspected. */
const MAX_FAULT_BYTES = 1024 * 1024

/**
 * A SOAP service at a direct URL. Envelopes of either SOAP version pass through byte for byte and streaming,
 * over an HTTP endpoint's pool; with `faultIsFailure`, an error response that holds a SOAP Fault is buffered,
 * inspected and reported as a `soap-fault` failure that still carries the Fault for the client.
 */
export class SoapEndpoint implements Endpoint {
  readonly id: string
  readonly isPrototype = false
  readonly #http: HttpEndpoint
  readonly #faultIsFailure: boolean
  #faults = 0

  constructor(id: string, config: Omit<SoapEndpointConfig, 'type' | 'rest'>) {
    this.id = id
    // Parsed rather than written out, so that fields the http type gains later get their defaults here too.
    const http = HttpEndpointSchema.parse({ type: 'http', url: config.url, timeouts: config.timeouts, pool: config.pool, security: config.security })
    this.#http = new HttpEndpoint(id, http)
    this.#faultIsFailure = config.faultIsFailure
  }

  async send(exchange: Exchange, signal: AbortSignal): Promise<BackendResponse> {
    const response = await this.#http.send(exchange, signal)
    const contentType = response.headers['content-type']
    const multipart = isMultipartRelated(contentType)
    if (!this.#faultIsFailure || response.status < 400 || !response.body || !(isXml(contentType) || multipart)) return response
    const body = await peek(response.body, MAX_FAULT_BYTES)
    if (!Buffer.isBuffer(body)) return { ...response, body }
    const buffered = { ...response, body: Readable.from([body]) }
    // An MTOM Fault (as WCF and CXF send one to an MTOM client) is the envelope in the root part.
    const envelope = await envelopeOf(body, contentType)
    if (!envelope || !(await isSoapFaultOffLoop(envelope))) return buffered
    this.#faults++
    throw new EndpointError('soap-fault', this.id, `${this.id}: the backend answered with a SOAP Fault (status ${response.status})`, {
      status: response.status,
      response: buffered,
    })
  }

  /** The path and query sent to the service (what Digest signs). */
  targetPath(exchange: Exchange): string {
    return this.#http.targetPath!(exchange)
  }

  ready(now: number): boolean {
    return this.#http.ready()
  }

  describe(): EndpointStatus {
    return { ...this.#http.describe(), type: 'soap', faultIsFailure: this.#faultIsFailure, faults: this.#faults }
  }

  close(): Promise<void> {
    return this.#http.close()
  }
}

/**
 * The whole body when it is at most `maxBytes` long; otherwise a stream of the same bytes (those read so far,
 * then the rest), so that a long response still reaches the client intact.
 */
async function peek(body: Readable, maxBytes: number): Promise<Buffer | Readable> {
  const iterator: AsyncIterator<Buffer> = body[Symbol.asyncIterator]()
  const chunks: Buffer[] = []
  let length = 0
  for (;;) {
    const next = await iterator.next()
    if (next.done) return Buffer.concat(chunks, length)
    chunks.push(next.value)
    length += next.value.length
    if (length > maxBytes) break
  }
  return Readable.from(
    (async function* () {
      yield* chunks
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield next.value
    })(),
  )
}

function isXml(contentType: string | undefined): boolean {
  if (!contentType) return false
  const type = contentType.toLowerCase()
  return type.includes('xml')
}
