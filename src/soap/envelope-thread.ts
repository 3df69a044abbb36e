import { Worker } from 'node:worker_threads'
import { envelopeProblem } from './envelope.ts'
import type { EnvelopeJob, EnvelopeVerdict } from './envelope-worker.ts'
import { isSoapFault } from './fault-detection.ts'
import { AXIS2_SESSION_HEADER, soapSessionId, type SessionHeader } from './session.ts'
import type { SoapVersion } from './version.ts'

/**
 * Envelopes up to this size are parsed on the event loop (well under a millisecond for common messages); larger
 * ones in a worker thread. A dense 3.9 MB envelope held the loop for 0.6 s, and every other request with it; the
 * hand-over costs a copy of the body and a message, some 0.1 ms, which small envelopes need not pay.
 */
const INLINE_BYTES = 16 * 1024

/** What is wrong with an envelope, or undefined when it is a SOAP envelope of the expected version. */
export async function envelopeProblemOffLoop(body: Buffer, expected: SoapVersion | undefined): Promise<string | undefined> {
  if (body.length <= INLINE_BYTES) return envelopeProblem(body, expected)
  return (await thread.run({ task: 'problem', body, expected })) as string | undefined
}

/** Whether a message is a SOAP envelope whose Body holds a Fault. */
export async function isSoapFaultOffLoop(body: Buffer): Promise<boolean> {
  if (body.length <= INLINE_BYTES) return isSoapFault(body)
  return (await thread.run({ task: 'fault', body })) === true
}

/** The text of the named SOAP header: the session id a load-balance group's `soap` session reads. */
export async function soapSessionIdOffLoop(body: Buffer, header: SessionHeader | undefined): Promise<string | undefined> {
  if (body.length <= INLINE_BYTES) return soapSessionId(body, header)
  const result = await thread.run({ task: 'session', body, header: header ?? AXIS2_SESSION_HEADER })
  return typeof result === 'string' ? result : undefined
}

/** A job without its id (Omit taken over each member of the union). */
type Job = EnvelopeJob extends infer J ? (J extends unknown ? Omit<J, 'id'> : never) : never

/**
 * The one worker thread of this process that reads large envelopes, in arrival order. It starts on first use,
 * never keeps the process alive when idle, and is replaced when it dies (the jobs it held then fail).
 */
class EnvelopeThread {
  #worker: Worker | undefined
  readonly #waiting = new Map<number, { resolve(result: EnvelopeVerdict['result']): void; reject(error: Error): void }>()
  #nextId = 1

  run(job: Job): Promise<EnvelopeVerdict['result']> {
    const worker = this.#ensureWorker()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      worker.ref()
      // Copied, not transferred: the same bytes still go on to the backend or the client.
      worker.postMessage({ ...job, id } satisfies EnvelopeJob)
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
      waiting?.resolve(verdict.result)
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

const thread = new EnvelopeThread()
