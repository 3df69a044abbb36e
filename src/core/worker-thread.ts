import { Worker } from 'node:worker_threads'

/** What a worker thread answers: the job's id and its result, or why it failed. */
export type WorkerAnswer<R> = { id: number; result: R } | { id: number; error: string }

/**
 * One worker thread that takes jobs in arrival order, for work that must not hold the event loop (parsing a
 * large document). The worker at `url` answers each `{ id, ...job }` with a WorkerAnswer. It starts on first
 * use, never keeps the process alive when idle, and is replaced when it dies: the jobs it held then fail.
 */
export class WorkerThread<J extends object, R> {
  readonly #url: URL
  #worker: Worker | undefined
  readonly #waiting = new Map<number, { resolve(result: R): void; reject(error: Error): void }>()
  #nextId = 1

  constructor(url: URL) {
    this.#url = url
  }

  /** Runs `job` in the thread. Its buffers are copied, not transferred: the caller keeps using them. */
  run(job: J): Promise<R> {
    const worker = this.#ensureWorker()
    const id = this.#nextId++
    return new Promise((resolve, reject) => {
      this.#waiting.set(id, { resolve, reject })
      worker.ref()
      worker.postMessage({ ...job, id })
    })
  }

  #ensureWorker(): Worker {
    if (this.#worker) return this.#worker
    const worker = new Worker(this.#url)
    worker.unref()
    worker.on('message', (answer: WorkerAnswer<R>) => {
      const waiting = this.#waiting.get(answer.id)
      this.#waiting.delete(answer.id)
      if (this.#waiting.size === 0) worker.unref()
      if (!waiting) return
      if ('error' in answer) waiting.reject(new Error(answer.error))
      else waiting.resolve(answer.result)
    })
    let failure = 'it exited'
    worker.on('error', (error) => {
      failure = error.message
    })
    worker.on('exit', () => {
      if (this.#worker === worker) this.#worker = undefined
      const error = new Error(`the worker thread stopped: ${failure}`)
      for (const waiting of this.#waiting.values()) waiting.reject(error)
      this.#waiting.clear()
    })
    this.#worker = worker
    return worker
  }
}
