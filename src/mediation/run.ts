import { Readable } from 'node:stream'
import type { BackendResponse, Exchange } from '../core/endpoint.ts'
import type { ApiFilter, FilterContext, FilterStop } from '../core/filter.ts'
import { compileSequence, type CompiledSequence } from './compile.ts'
import { MediationContext } from './context.ts'
import { BodyTooLarge, readBody } from '../core/body.ts'
import { Payload, XmlTooLarge } from './payload.ts'
import type { SequencesConfig } from './schema.ts'
import { answerOffLoop } from './payload-thread.ts'
import { flatHeader } from '../core/headers.ts'

/**
 * The IN and OUT sequences of one resource: the API's and the resource's, compiled once at config load. The
 * IN flow runs the API's sequence, then the resource's; the OUT flow the resource's, then the API's.
 */
export class Mediation implements ApiFilter {
  readonly name = 'mediation'
  readonly #in: CompiledSequence | undefined
  readonly #out: CompiledSequence | undefined
  /** Largest body a sequence that reads the payload may buffer. */
  readonly #bodyLimit: number
  /** Largest XML body an XPath source parses into a DOM. */
  readonly #xmlLimit: number

  private constructor(inSequence: CompiledSequence | undefined, outSequence: CompiledSequence | undefined, bodyLimit: number, xmlLimit: number) {
    this.#in = inSequence
    this.#out = outSequence
    this.#bodyLimit = bodyLimit
    this.#xmlLimit = xmlLimit
  }

  /** The resource's mediation, or undefined when neither it nor its API declares a sequence. */
  static compile(api: SequencesConfig, resource: SequencesConfig, bodyLimit: number, xmlLimit: number): Mediation | undefined {
    const inMediators = [...(api.inSequence ?? []), ...(resource.inSequence ?? [])]
    const outMediators = [...(resource.outSequence ?? []), ...(api.outSequence ?? [])]
    if (inMediators.length === 0 && outMediators.length === 0) return undefined
    return new Mediation(
      inMediators.length > 0 ? compileSequence(inMediators) : undefined,
      outMediators.length > 0 ? compileSequence(outMediators) : undefined,
      bodyLimit,
      xmlLimit,
    )
  }

  /**
   * Runs the IN sequence on the request. Only a sequence that reads the payload buffers the body (and then
   * hands the backend those same bytes); any other leaves it streaming.
   */
  async request(exchange: Exchange, context: FilterContext): Promise<FilterStop | undefined> {
    const sequence = this.#in
    if (!sequence) return undefined
    let payload: Payload | undefined
    if (sequence.readsPayload) {
      const body = exchange.body
      // Also for a body the gateway already holds (a small one, read before routing): the limit is this API's.
      try {
        const bytes = await readBody(body, this.#bodyLimit, { declaredLength: declaredLength(exchange.headers) })
        if (body !== null) exchange.body = bytes
        payload = new Payload(bytes, this.#xmlLimit)
      } catch (error) {
        if (!(error instanceof BodyTooLarge)) return { code: 'BAD_REQUEST', message: `The request body could not be read: ${(error as Error).message}`, headers: [] }
        // The rest of a streamed body stays unread, so the connection cannot carry another request.
        return { code: 'PAYLOAD_TOO_LARGE', message: `The request body is too large for this API's mediation: ${error.message}`, headers: Buffer.isBuffer(body) ? [] : ['connection', 'close'] }
      }
      await answerOffLoop(payload, sequence.payloadJobs)
    }
    const run = new MediationContext(exchange, undefined, payload, context.logger)
    try {
      sequence.run(run)
    } catch (error) {
      if (!(error instanceof XmlTooLarge)) throw error
      return { code: 'PAYLOAD_TOO_LARGE', message: `The request body is too large for this API's XPath mediation: ${error.message}`, headers: [] }
    }
    return run.reply ? { reply: run.reply } : undefined
  }

  /** Runs the OUT sequence on the backend's response, which it may change in place or replace with a reply. */
  async response(exchange: Exchange, response: BackendResponse, context: FilterContext): Promise<FilterStop | undefined> {
    const sequence = this.#out
    if (!sequence) return undefined
    let payload: Payload | undefined
    if (sequence.readsPayload) {
      let bytes: Buffer = Buffer.alloc(0)
      if (response.body) {
        const length = response.headers['content-length']
        try {
          bytes = await readBody(response.body, this.#bodyLimit, length === undefined ? {} : { declaredLength: Number(length) })
        } catch (error) {
          if (!(error instanceof BodyTooLarge)) throw error
          response.body.destroy()
          return { code: 'BACKEND_BAD_RESPONSE', message: `The backend's response is too large for this API's mediation: ${error.message}`, headers: [] }
        }
        response.body = Readable.from([bytes])
      }
      payload = new Payload(bytes, this.#xmlLimit)
      await answerOffLoop(payload, sequence.payloadJobs)
    }
    const run = new MediationContext(exchange, response, payload, context.logger)
    try {
      sequence.run(run)
    } catch (error) {
      if (!(error instanceof XmlTooLarge)) throw error
      response.body?.destroy()
      return { code: 'BACKEND_BAD_RESPONSE', message: `The backend's response is too large for this API's XPath mediation: ${error.message}`, headers: [] }
    }
    if (!run.reply) return undefined
    response.body?.destroy()
    return { reply: run.reply }
  }
}

function declaredLength(headers: readonly string[]): number | undefined {
  const declared = flatHeader(headers, 'content-length')
  if (declared === undefined) return undefined
  const length = Number(declared)
  return Number.isSafeInteger(length) ? length : undefined
}
