import type { Worker } from 'node:cluster'
import { LocalCounters, useNodeCounters, type Counters, type Take, type TakeAnswer } from '../throttling/counters.ts'

/**
 * Rate limits without Redis still hold for the whole gateway, not per worker: the primary keeps the one set of
 * counters, and a worker's take is a question to it (one IPC round trip, a few tens of microseconds). A primary
 * that does not answer within `ANSWER_TIMEOUT` (stopping, overloaded) is not waited for: the worker counts on its
 * own counters meanwhile, as it would if Redis were unreachable with `onStoreFailure: open`.
 */

type ToPrimary =
  | { type: 'portico:limits-take'; seq: number; entries: Take[] }
  | { type: 'portico:limits-charge'; entries: Take[] }

type ToWorker = { type: 'portico:limits-answer'; seq: number; answer: TakeAnswer }

const ANSWER_TIMEOUT = 1000

/** Makes this worker count through its primary. Call before the first snapshot is built. */
export function shareLimitsWithPrimary(): void {
  const counters = new PrimaryCounters()
  useNodeCounters(counters)
  process.on('message', (message: ToWorker) => {
    if (message?.type === 'portico:limits-answer') counters.receive(message)
  })
}

class PrimaryCounters implements Counters {
  readonly #waiting = new Map<number, (answer: TakeAnswer) => void>()
  readonly #own = new LocalCounters()
  #seq = 0

  take(entries: readonly Take[]): Promise<TakeAnswer> {
    if (!process.connected) return Promise.resolve(this.#own.take(entries))
    const seq = ++this.#seq
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#waiting.delete(seq)
        resolve(this.#own.take(entries))
      }, ANSWER_TIMEOUT)
      this.#waiting.set(seq, (answer) => {
        clearTimeout(timer)
        this.#waiting.delete(seq)
        resolve(answer)
      })
      process.send!({ type: 'portico:limits-take', seq, entries: [...entries] } satisfies ToPrimary)
    })
  }

  charge(entries: readonly Take[]): void {
    if (process.connected) process.send!({ type: 'portico:limits-charge', entries: [...entries] } satisfies ToPrimary)
  }

  receive(message: ToWorker): void {
    this.#waiting.get(message.seq)?.(message.answer)
  }
}

/** The primary's side: the gateway's one set of counters, answering every worker. */
export class SharedLimits {
  readonly #counters = new LocalCounters()

  attach(worker: Worker): void {
    worker.on('message', (message: ToPrimary) => {
      if (message?.type === 'portico:limits-take') {
        const answer = this.#counters.take(message.entries)
        if (worker.isConnected()) worker.send({ type: 'portico:limits-answer', seq: message.seq, answer } satisfies ToWorker)
      } else if (message?.type === 'portico:limits-charge') this.#counters.charge(message.entries)
    })
  }

  close(): void {
    this.#counters.close()
  }
}
