import { WorkerThread } from '../core/worker-thread.ts'
import { envelopeProblem } from './envelope.ts'
import type { EnvelopeJob, EnvelopeResult } from './envelope-worker.ts'
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

const thread = new WorkerThread<EnvelopeJob, EnvelopeResult>(new URL('./envelope-worker.ts', import.meta.url))
