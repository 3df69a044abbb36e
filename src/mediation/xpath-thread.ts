import { WorkerThread } from '../core/worker-thread.ts'
import type { Payload, XPathJob } from './payload.ts'
import type { XPathAnswers, XPathWork } from './xpath-worker.ts'

const thread = new WorkerThread<XPathWork, XPathAnswers>(new URL('./xpath-worker.ts', import.meta.url))

/**
 * Answers a sequence's XPath `jobs` in the worker thread when the payload is XML too large to parse on the event
 * loop, so that the sequence, which runs synchronously, finds their values ready.
 */
export async function answerXPathOffLoop(payload: Payload, jobs: readonly XPathJob[]): Promise<void> {
  if (jobs.length === 0 || !payload.parsesOffLoop) return
  payload.answered(jobs, await thread.run({ body: payload.bytes, jobs }))
}
