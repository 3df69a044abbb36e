import { Worker } from 'node:worker_threads'
import type { ConfigIssue } from './load.ts'
import type { ConfigModel } from './schema.ts'

type Answer = { config: ConfigModel } | { issues: ConfigIssue[] } | { error: string }

/**
 * Parses and validates a config in a thread of its own, which exits when done. Parsing YAML of thousands of APIs
 * leaves hundreds of megabytes of garbage and holds the event loop for seconds: in a thread that exits, the
 * garbage goes with its heap, and the process keeps serving meanwhile. Only the validated model is copied back.
 */
export function parseConfigInThread(text: string, file: string): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL('./parse-worker.ts', import.meta.url), { workerData: { text, file } })
    let answer: Answer | undefined
    worker.once('message', (message: Answer) => (answer = message))
    worker.once('error', reject)
    worker.once('exit', (code) => (answer ? resolve(answer) : reject(new Error(`the config parser thread exited with code ${code}`))))
  })
}
