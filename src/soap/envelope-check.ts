import { Worker } from 'node:worker_threads'
import type { Exchange } from '../endpoints/endpoint.ts'
import type { RequestCheck, RequestRejection } from '../gateway/api.ts'
import { BodyTooLarge, readBody } from '../endpoints/body.ts'
import { envelopeProblem } from './envelope.ts'
import type { EnvelopeJob, EnvelopeVerdict } from './envelope-worker.ts'
import type { SoapVersion } from './version.ts'
import { flatHeader } from '../gateway/headers.ts'

/**
 * Envelopes up to this size are parsed on the event loop (well under a millisecond for common messages); larger
 * ones in a worker thread. A dense 3.9 MB envelope held the loop for 0.6 s, and every other request with it; the
 * hand-over costs a copy of the body and a message, some 0.1 ms, which small envelopes need not pay.
 */
const INLINE_BYTES = 16 * 1024

/**
 * A request check for SOAP APIs: a POST must carry a well-formed SOAP envelope (no DTD, an `Envelope` root in
 * the SOAP 1.1 or 1.2 namespace that matches the content type, with a `Body`). The body is buffered up to
 * `maxBytes` and handed on as a buffer, which also lets a failover group send it again.
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
    const problem = body.length <= INLINE_BYTES ? envelopeProblem(body, expected) : await envelopeThread.problem(body, expected)
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

/**
 * The one worker thread of this process that checks large envelopes, in arrival order. It starts on first use,
 * never keeps the process alive when idle, and is replaced when it dies (the checks it held then fail).
 */
class EnvelopeThread {
  #worker: Worker | undefined
  readonly #waiting = new Map<number, { resolve(problem: string | undefined): void; reject(error: Error): void }>()
  #nextId = 1

  problem(body: Buffer, expected: SoapVersion | undefined): Promise<string | undefined> {
    const worker = this.#ensureWorker()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      worker.ref()
      // Copied, not transferred: the same bytes still go to the backend.
      worker.postMessage({ id, body, expected } satisfies EnvelopeJob)
    })
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(new URL('./envelope-worker.ts', import.meta.url))
    worker.unref()
    worker.on('message', (verdict: EnvelopeVerdict) => {
      const waiting = this.#waiting.get(verdict.id)
      this.#waiting.delete(verdict.id)
      if (this.#waiting.size === 0) worker.unref()
      waiting?.resolve(verdict.problem)
    })
    let failure = 'it exited'
    worker.on('error', (error) => {
      failure = error.message
    })
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      const error = new Error(`the SOAP envelope worker stopped: ${failure}`)
      for (const waiting of this.#waiting.values()) waiting.reject(error)
      this.#waiting.clear()
    })
    this.#worker = worker
    return worker
  }
}

const envelopeThread = new EnvelopeThread()
