import { parentPort } from 'node:worker_threads'
import type { WorkerAnswer } from '../core/worker-thread.ts'
import { compileXPath, Payload, type XPathAnswer, type XPathJob, type XPathQuery } from './payload.ts'

/** A body and the XPath queries to answer over it, as the gateway sends them to this worker. */
export interface XPathWork {
  body: Uint8Array
  jobs: readonly XPathJob[]
}

/** One answer per job, in order; null when the body is not well-formed XML. */
export type XPathAnswers = XPathAnswer[] | null

/** Queries compiled once per expression and namespaces, as the sequences that send them are. */
const compiled = new Map<string, XPathQuery>()

const noProperty = () => undefined

/**
 * The worker thread that parses a large XML body and answers a sequence's XPath queries over it, so that neither
 * the parse nor the queries hold the gateway's event loop.
 */
parentPort!.on('message', (work: XPathWork & { id: number }) => {
  const body = Buffer.from(work.body.buffer, work.body.byteOffset, work.body.byteLength)
  // The gateway checked the limit; here the body is parsed whatever its size.
  const payload = new Payload(body, Infinity, Infinity)
  let answers: XPathAnswers
  try {
    answers = payload.xml() === null ? null : work.jobs.map((job) => answer(payload, job))
  } catch (error) {
    parentPort!.postMessage({ id: work.id, error: (error as Error).message } satisfies WorkerAnswer<XPathAnswers>)
    return
  }
  parentPort!.postMessage({ id: work.id, result: answers } satisfies WorkerAnswer<XPathAnswers>)
})

function answer(payload: Payload, job: XPathJob): XPathAnswer {
  const key = `${job.kind} ${job.expression} ${JSON.stringify(job.namespaces)}`
  let query = compiled.get(key)
  if (!query) {
    query = compileXPath(job.expression, job.namespaces, job.kind)
    if (compiled.size >= 10_000) compiled.clear()
    compiled.set(key, query)
  }
  try {
    return { value: job.kind === 'boolean' ? query.test(payload, noProperty) : (query.read(payload, noProperty) ?? '') }
  } catch (error) {
    return { error: (error as Error).message }
  }
}
