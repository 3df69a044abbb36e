import { parentPort } from 'node:worker_threads'
import type { WorkerAnswer } from '../core/worker-thread.ts'
import { compileJsonPath, compileXPath, Payload, type JsonPathQuery, type PayloadAnswer, type PayloadJob, type XPathQuery } from './payload.ts'

/** A body and the payload queries to answer over it, as the gateway sends them to this worker. */
export interface PayloadWork {
  body: Uint8Array
  jobs: readonly PayloadJob[]
}

/** Queries compiled once per expression, as the sequences that send them are. */
const compiled = new Map<string, XPathQuery | JsonPathQuery>()

const noProperty = () => undefined

/**
 * The worker thread that parses a large XML or JSON body and answers a sequence's payload queries over it, so
 * that neither the parse nor the queries hold the gateway's event loop. The body is parsed once, whatever the
 * number of queries; one that is not XML (or not JSON) gives them no value, as on the event loop.
 */
parentPort!.on('message', (work: PayloadWork & { id: number }) => {
  const body = Buffer.from(work.body.buffer, work.body.byteOffset, work.body.byteLength)
  // The gateway checked the limits; here the body is parsed whatever its size.
  const payload = new Payload(body, Infinity, Infinity)
  const answers = work.jobs.map((job) => answer(payload, job))
  parentPort!.postMessage({ id: work.id, result: answers } satisfies WorkerAnswer<PayloadAnswer[]>)
})

function answer(payload: Payload, job: PayloadJob): PayloadAnswer {
  try {
    if (job.kind === 'jsonPath') return { value: (query(`json ${job.path}`, () => compileJsonPath(job.path)) as JsonPathQuery).read(payload) }
    const xpath = query(`${job.kind} ${job.expression} ${JSON.stringify(job.namespaces)}`, () => compileXPath(job.expression, job.namespaces, job.kind)) as XPathQuery
    return { value: job.kind === 'boolean' ? xpath.test(payload, noProperty) : xpath.read(payload, noProperty) }
  } catch (error) {
    return { error: (error as Error).message }
  }
}

function query(key: string, compile: () => XPathQuery | JsonPathQuery): XPathQuery | JsonPathQuery {
  let found = compiled.get(key)
  if (!found) {
    found = compile()
    if (compiled.size >= 10_000) compiled.clear()
    compiled.set(key, found)
  }
  return found
}
