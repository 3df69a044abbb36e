import { parentPort } from 'node:worker_threads'
import { envelopeProblem } from './envelope.ts'
import { isSoapFault } from './fault-detection.ts'
import type { SoapVersion } from './version.ts'

/** An envelope to read, as the gateway sends it to this worker: to check it, or to tell whether it is a Fault. */
export type EnvelopeJob = { id: number; body: Uint8Array } & ({ task: 'problem'; expected: SoapVersion | undefined } | { task: 'fault' })

export interface EnvelopeVerdict {
  id: number
  /** What is wrong with it (task `problem`), or whether it is a Fault (task `fault`). */
  result: string | boolean | undefined
}

/** The worker thread that parses large SOAP envelopes, so that their parse never holds the gateway's event loop. */
parentPort!.on('message', (job: EnvelopeJob) => {
  const body = Buffer.from(job.body.buffer, job.body.byteOffset, job.body.byteLength)
  let result: string | boolean | undefined
  try {
    result = job.task === 'fault' ? isSoapFault(body) : envelopeProblem(body, job.expected)
  } catch (error) {
    result = job.task === 'fault' ? false : `it could not be parsed: ${(error as Error).message}`
  }
  parentPort!.postMessage({ id: job.id, result } satisfies EnvelopeVerdict)
})
