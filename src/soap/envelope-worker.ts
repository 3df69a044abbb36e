import { parentPort } from 'node:worker_threads'
import { envelopeProblem } from './envelope.ts'
import type { SoapVersion } from './version.ts'

/** An envelope to check, as the gateway sends it to this worker. */
export interface EnvelopeJob {
  id: number
  body: Uint8Array
  expected: SoapVersion | undefined
}

export interface EnvelopeVerdict {
  id: number
  problem: string | undefined
}

/** The worker thread that parses large SOAP envelopes, so that their parse never holds the gateway's event loop. */
parentPort!.on('message', (job: EnvelopeJob) => {
  let problem: string | undefined
  try {
    problem = envelopeProblem(job.body, job.expected)
  } catch (error) {
    problem = `it could not be parsed: ${(error as Error).message}`
  }
  parentPort!.postMessage({ id: job.id, problem } satisfies EnvelopeVerdict)
})
