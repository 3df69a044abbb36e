import type { Worker } from 'node:cluster'
import { LocalCapacityGate, useCapacityGates, type CapacityGate } from '../endpoints/capacity-guard.ts'
import type { CapacityConfig } from '../endpoints/capacity-schema.ts'

/**
 * Backend protection for the whole gateway: the primary holds one gate per leaf, and a worker's request asks it
 * for room (one IPC round trip; a queued request waits in the primary's queue). A slot held by a worker that dies
 * is given back. A primary that does not answer in time (its queue timeout and a second more) counts as no room:
 * a backend is protected rather than flooded.
 */

type ToPrimary =
  | { type: 'portico:capacity-admit'; key: string; config: CapacityConfig; seq: number }
  | { type: 'portico:capacity-release'; key: string }

type ToWorker = { type: 'portico:capacity-answer'; seq: number; admitted: boolean }

const ANSWER_GRACE = 1000

/** Makes this worker's leaves admit through the primary. Call before the first snapshot is built. */
export function shareCapacityWithPrimary(): void {
  const waiting = new Map<number, (admitted: boolean) => void>()
  let seq = 0
  process.on('message', (message: ToWorker) => {
    if (message?.type === 'portico:capacity-answer') waiting.get(message.seq)?.(message.admitted)
  })
  useCapacityGates((key, config): CapacityGate => {
    const send = (message: ToPrimary) => process.connected && process.send!(message)
    return {
      admit(signal) {
        const id = ++seq
        return new Promise<boolean>((resolve) => {
          let done = false
          const timer = setTimeout(() => {
            done = true
            resolve(false)
          }, config.queueTimeout + ANSWER_GRACE)
          // Kept until the primary answers, so that a grant the worker no longer wants goes back at once.
          waiting.set(id, (admitted) => {
            waiting.delete(id)
            const wanted = !done && !signal.aborted
            if (admitted && !wanted) send({ type: 'portico:capacity-release', key })
            if (done) return
            done = true
            clearTimeout(timer)
            resolve(admitted && wanted)
          })
          if (!send({ type: 'portico:capacity-admit', key, config, seq: id })) {
            waiting.delete(id)
            clearTimeout(timer)
            resolve(false)
          }
        })
      },
      release: () => send({ type: 'portico:capacity-release', key }),
      close: () => {},
    }
  })
}

/** The primary's side: one gate per leaf for all workers, and the slots each worker holds. */
export class SharedCapacity {
  readonly #gates = new Map<string, LocalCapacityGate>()
  readonly #held = new Map<number, Map<string, number>>()

  attach(worker: Worker): void {
    const held = new Map<string, number>()
    this.#held.set(worker.id, held)
    worker.on('message', (message: ToPrimary) => {
      if (message?.type === 'portico:capacity-admit') {
        let gate = this.#gates.get(message.key)
        if (!gate) this.#gates.set(message.key, (gate = new LocalCapacityGate(message.config)))
        // The worker gives up on its own after its timeout; the primary's queue never outlives it.
        void gate.admit(new AbortController().signal).then((admitted) => {
          if (admitted) held.set(message.key, (held.get(message.key) ?? 0) + 1)
          if (worker.isConnected()) worker.send({ type: 'portico:capacity-answer', seq: message.seq, admitted } satisfies ToWorker)
          else if (admitted) this.#release(held, message.key)
        })
      } else if (message?.type === 'portico:capacity-release') this.#release(held, message.key)
    })
    worker.once('exit', () => {
      for (const [key, count] of held) for (let i = 0; i < count; i++) this.#gates.get(key)?.release()
      this.#held.delete(worker.id)
    })
  }

  #release(held: Map<string, number>, key: string): void {
    const count = held.get(key) ?? 0
    if (count === 0) return
    held.set(key, count - 1)
    this.#gates.get(key)?.release()
  }
}
