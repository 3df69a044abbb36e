import { parentPort } from 'node:worker_threads'
import { envelopeProblem } from './envelope.ts'
import { isSoapFault } from './fault-detection.ts'
import { soapSessionId, type SessionHeader } from './session.ts'
import type { SoapVersion } from './version.ts'

/** An envelope to read, as the gateway sends it to this worker: to check it, to tell a Fault, or for its session. */
export type EnvelopeJob = { id: number; body: Uint8Array } & (
  | { task: 'problem'; expected: SoapVersion | undefined }
  | { task: 'fault' }
  | { task: 'session'; header: SessionHeader }
)

export interface EnvelopeVerdict {
  id: number
  /** What is wrong with it (task `problem`), whether it is a Fault (`fault`), its session id (`session`). */
  result: string | boolean | undefined
}

/** The worker thread that parses large SOAP envelopes, so that their parse never holds the gateway's event loop. */
parentPort!.on('message', (job: EnvelopeJob) => {
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength)
  let result: string | boolean | undefined
  try {
    if (job.task === 'fault') result = isSoapFault(body)
    else if (job.task === 'session') result = soapSessionId(body, job.header)
    else result = envelopeProblem(body, job.expected)
  } catch (error) {
    result = job.task === 'problem' ? `it could not be parsed: ${(error as Error).message}` : undefined
  }
  parentPort!.postMessage({ id: job.id, result } satisfies EnvelopeVerdict)
})
