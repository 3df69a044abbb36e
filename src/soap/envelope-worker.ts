import { parentPort } from 'node:worker_threads'
import type { WorkerAnswer } from '../core/worker-thread.ts'
import { envelopeProblem } from './envelope.ts'
import { isSoapFault } from './fault-detection.ts'
import { soapSessionId, type SessionHeader } from './session.ts'
import type { SoapVersion } from './version.ts'

/** An envelope to read, as the gateway sends it to this worker: to check it, to tell a Fault, or for its session. */
export type EnvelopeJob = { body: Uint8Array } & (
  | { task: 'problem'; expected: SoapVersion | undefined }
  | { task: 'fault' }
  | { task: 'session'; header: SessionHeader }
)

/** What is wrong with it (task `problem`), whether it is a Fault (`fault`), its session id (`session`). */
export type EnvelopeResult = string | boolean | undefined

/** The worker thread that parses large SOAP envelopes, so that their parse never holds the gateway's event loop. */
parentPort!.on('message', (job: EnvelopeJob & { id: number }) => {
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength)
  let result: EnvelopeResult
  try {
    if (job.task === 'fault') result = isSoapFault(body)
    else if (job.task === 'session') result = soapSessionId(body, job.header)
    else result = envelopeProblem(body, job.expected)
  } catch (error) {
    result = job.task === 'problem' ? `it could not be parsed: ${(error as Error).message}` : undefined
  }
  parentPort!.postMessage({ id: job.id, result } satisfies WorkerAnswer<EnvelopeResult>)
})
