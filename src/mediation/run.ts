import { Readable } from 'node:stream'
import type { ApiConfig, ResourceConfig } from '../config/schema.ts'
import type { BackendResponse, Exchange } from '../endpoints/endpoint.ts'
import type { GatewayErrorCode } from '../gateway/errors.ts'
import type { Logger } from '../telemetry/logger.ts'
import { compileSequence, type CompiledSequence } from './compile.ts'
import { MediationContext, type Reply } from './context.ts'
import { BodyTooLarge, readBody } from '../endpoints/body.ts'
import { Payload, XmlTooLarge } from './payload.ts'
import { answerOffLoop } from './payload-thread.ts'
import { flatHeader } from '../gateway/headers.ts'

export type { Reply } from './context.ts'

/** Why the flow stops before (or instead of) the usual response: a `respond` mediator, or an error. */
export type MediationStop = { reply: Reply } | { error: GatewayErrorCode; message: string; headers: string[] }

export interface MediationOptions {
  /** Largest body a sequence that reads the payload may buffer. */
  bodyLimit: number
  /** Largest XML body an XPath source parses into a DOM. */
  xmlLimit: number
  logger: Logger
}

/**
 * The IN and OUT sequences of one resource: the API's and the resource's, compiled once at config load. The
 * IN flow runs the API's sequence, then the resource's; the OUT flow the resource's, then the API's.
 */
export class Mediation {
  readonly #in: CompiledSequence | undefined
  readonly #out: CompiledSequence | undefined

  private constructor(inSequence: CompiledSequence | undefined, outSequence: CompiledSequence | undefined) {
    this.#in = inSequence
    this.#out = outSequence
  }

  /** The resource's mediation, or undefined when neither it nor its API declares a sequence. */
  static compile(api: Pick<ApiConfig, 'inSequence' | 'outSequence'>, resource: Pick<ResourceConfig, 'inSequence' | 'outSequence'>): Mediation | undefined {
    const inMediators = [...(api.inSequence ?? []), ...(resource.inSequence ?? [])]
    const outMediators = [...(resource.outSequence ?? []), ...(api.outSequence ?? [])]
    if (inMediators.length === 0 && outMediators.length === 0) return undefined
    return new Mediation(
      inMediators.length > 0 ? compileSequence(inMediators) : undefined,
      outMediators.length > 0 ? compileSequence(outMediators) : undefined,
    )
  }

  /**
   * Runs the IN sequence on the request. Only a sequence that reads the payload buffers the body (and then
   * hands the backend those same bytes); any other leaves it streaming.
   */
  async request(exchange: Exchange, options: MediationOptions): Promise<MediationStop | undefined> {
    const sequence = this.#in
    if (!sequence) return undefined
    let payload: Payload | undefined
    if (sequence.readsPayload) {
      const body = exchange.body
      // Also for a body the gateway already holds (a small one, read before routing): the limit is this API's.
      try {
        const bytes = await readBody(body, options.bodyLimit, { declaredLength: declaredLength(exchange.headers) })
        if (body !== null) exchange.body = bytes
        payload = new Payload(bytes, options.xmlLimit)
      } catch (error) {
        if (!(error instanceof BodyTooLarge)) return { error: 'BAD_REQUEST', message: `The request body could not be read: ${(error as Error).message}`, headers: [] }
        // The rest of a streamed body stays unread, so the connection cannot carry another request.
        return { error: 'PAYLOAD_TOO_LARGE', message: `The request body is too large for this API's mediation: ${error.message}`, headers: Buffer.isBuffer(body) ? [] : ['connection', 'close'] }
      }
      await answerOffLoop(payload, sequence.payloadJobs)
    }
    const context = new MediationContext(exchange, undefined, payload, options.logger)
    try {
      sequence.run(context)
    } catch (error) {
      if (!(error instanceof XmlTooLarge)) throw error
      return { error: 'PAYLOAD_TOO_LARGE', message: `The request body is too large for this API's XPath mediation: ${error.message}`, headers: [] }
    }
    return context.reply ? { reply: context.reply } : undefined
  }

  /** Runs the OUT sequence on the backend's response, which it may change in place or replace with a reply. */
  async response(exchange: Exchange, response: BackendResponse, options: MediationOptions): Promise<MediationStop | undefined> {
    const sequence = this.#out
    if (!sequence) return undefined
    let payload: Payload | undefined
    if (sequence.readsPayload) {
      let bytes: Buffer = Buffer.alloc(0)
      if (response.body) {
        const length = response.headers['content-length']
        try {
          bytes = await readBody(response.body, options.bodyLimit, length === undefined ? {} : { declaredLength: Number(length) })
        } catch (error) {
          if (!(error instanceof BodyTooLarge)) throw error
          response.body.destroy()
          return { error: 'BACKEND_BAD_RESPONSE', message: `The backend's response is too large for this API's mediation: ${error.message}`, headers: [] }
        }
        response.body = Readable.from([bytes])
      }
      payload = new Payload(bytes, options.xmlLimit)
      await answerOffLoop(payload, sequence.payloadJobs)
    }
    const context = new MediationContext(exchange, response, payload, options.logger)
    try {
      sequence.run(context)
    } catch (error) {
      if (!(error instanceof XmlTooLarge)) throw error
      response.body?.destroy()
      return { error: 'BACKEND_BAD_RESPONSE', message: `The backend's response is too large for this API's XPath mediation: ${error.message}`, headers: [] }
    }
    if (!context.reply) return undefined
    response.body?.destroy()
    return { reply: context.reply }
  }
}

function declaredLength(headers: readonly string[]): number | undefined {
  const declared = flatHeader(headers, 'content-length')
  if (declared === undefined) return undefined
  const length = Number(declared)
  return Number.isSafeInteger(length) ? length : undefined
}
