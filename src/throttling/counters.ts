/**
 * One counter to take from: a window's count under `key`, refused past `limit`, forgotten `ttlMs` after it is
 * first counted. `cost` is 1 for a request limit, the request's body bytes for a byte limit.
 */
export interface Take {
  key: string
  limit: number
  ttlMs: number
  cost: number
}

/** `refused`: the index of the first counter that refused, -1 when all counted; `counts`: each counter's use after. */
export interface TakeAnswer {
  refused: number
  counts: number[]
  /** Answered by this process from what Redis granted earlier, without asking it now. */
  local?: true
}

/** Where counts are kept: this process, the primary of its workers, or Redis. Takes are atomic across all counters. */
export interface Counters {
  take(entries: readonly Take[]): TakeAnswer | Promise<TakeAnswer>
  /** Adds to counters without a check: the bytes of a response, counted once it is known. */
  charge(entries: readonly Take[]): void
}

/** How often expired windows are dropped from memory. */
const SWEEP_INTERVAL = 10_000

/**
 * Counts in this process's memory. All or nothing: a request refused by one counter counts in none, so a spike
 * refused by burst control does not eat a longer window's allowance.
 */
export class LocalCounters implements Counters {
  readonly #counts = new Map<string, { used: number; expires: number }>()
  readonly #sweeper = setInterval(() => this.#sweep(), SWEEP_INTERVAL).unref()

  take(entries: readonly Take[]): TakeAnswer {
    const now = Date.now()
    const counts: number[] = []
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!
      const used = this.#used(entry.key, now)
      // A request without a body still needs room in a byte limit: one that is used up refuses it.
      if (used + Math.max(entry.cost, 1) > entry.limit) return { refused: i, counts: entries.map((other) => this.#used(other.key, now)) }
      counts.push(used + entry.cost)
    }
    this.charge(entries, now)
    return { refused: -1, counts }
  }

  charge(entries: readonly Take[], now = Date.now()): void {
    for (const entry of entries) {
      if (entry.cost === 0) continue
      const counter = this.#counts.get(entry.key)
      if (counter && counter.expires > now) counter.used += entry.cost
      else this.#counts.set(entry.key, { used: entry.cost, expires: now + entry.ttlMs })
    }
  }

  close(): void {
    clearInterval(this.#sweeper)
    this.#counts.clear()
  }

  #used(key: string, now: number): number {
    const counter = this.#counts.get(key)
    return counter && counter.expires > now ? counter.used : 0
  }

  #sweep(): void {
    const now = Date.now()
    for (const [key, counter] of this.#counts) if (counter.expires <= now) this.#counts.delete(key)
  }
}

let shared: Counters | undefined

/**
 * Makes this process count through `counters` when no Redis is configured: a worker counts through its primary, so
 * that the limits hold for the whole gateway, not per worker. Call before the first snapshot is built.
 */
export function useNodeCounters(counters: Counters): void {
  shared = counters
}

/** The counters of this node: the primary's for a worker, this process's own otherwise. */
export function nodeCounters(): Counters {
  return (shared ??= new LocalCounters())
}
