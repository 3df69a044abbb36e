/** Header sessions kept per table before expired ones are swept eagerly. */
const SWEEP_ABOVE = 10_000
/**
 * Most sessions kept per table: session ids come from clients, so a client inventing a new one per request
 * must not grow memory without bound. Beyond it the least recently used binding goes first.
 */
export const MAX_SESSIONS = 100_000

/**
 * Which child each session is bound to. A process serving alone keeps it in a LocalSessionTable; a cluster worker
 * keeps a copy and asks its primary, which holds the one table every worker shares. Either method may answer with
 * a promise when the answer is taken elsewhere.
 */
export interface SessionTable {
  readonly size: number
  get(session: string, now: number): number | undefined | Promise<number | undefined>
  /** Binds (or refreshes) `session` to child `index` until `timeout` after `now`. */
  set(session: string, index: number, now: number): void | Promise<void>
  close(): void
}

/** Bindings in memory, each forgotten `timeout` after its last use. */
export class LocalSessionTable implements SessionTable {
  readonly #timeout: number
  readonly #bound = new Map<string, { index: number; expires: number }>()

  constructor(timeout: number) {
    this.#timeout = timeout
  }

  get size(): number {
    return this.#bound.size
  }

  get(session: string, now: number): number | undefined {
    const binding = this.#bound.get(session)
    if (!binding) return undefined
    if (binding.expires <= now) {
      this.#bound.delete(session)
      return undefined
    }
    return binding.index
  }

  set(session: string, index: number, now: number): void {
    // Delete then set: the map stays ordered by last use, so expired sessions sit at its front.
    this.#bound.delete(session)
    this.#bound.set(session, { index, expires: now + this.#timeout })
    if (this.#bound.size > SWEEP_ABOVE) this.#sweep(now)
  }

  close(): void {
    this.#bound.clear()
  }

  #sweep(now: number): void {
    for (const [session, binding] of this.#bound) {
      if (binding.expires > now && this.#bound.size <= MAX_SESSIONS) break
      this.#bound.delete(session)
    }
  }
}

/** `table` names one group's table (its id and a digest of its children), the same in every worker. */
type SessionTableFactory = (table: string, timeout: number) => SessionTable

let factory: SessionTableFactory = (_table, timeout) => new LocalSessionTable(timeout)

/** Where this process keeps session tables: a cluster worker shares them through its primary. Set once, first. */
export function useSessionTables(create: SessionTableFactory): void {
  factory = create
}

export function createSessionTable(table: string, timeout: number): SessionTable {
  return factory(table, timeout)
}
