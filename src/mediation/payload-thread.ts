import { WorkerThread } from '../core/worker-thread.ts'
import type { Payload, PayloadAnswer, PayloadJob } from './payload.ts'
import type { PayloadWork } from './payload-worker.ts'

const thread = new WorkerThread<PayloadWork, PayloadAnswer[]>(new URL('./payload-worker.ts', import.meta.url))

/**
 * Answers a sequence's payload queries in the worker thread when the body is too large to parse and query on
 * the event loop, so that the sequence, which runs synchronously, finds their values ready.
 */
export async function answerOffLoop(payload: Payload, jobs: readonly PayloadJob[]): Promise<void> {
  const offLoop = payload.offLoopJobs(jobs)
  if (offLoop.length === 0) return
  payload.answered(offLoop, await thread.run({ body: payload.bytes, jobs: offLoop }))
}
