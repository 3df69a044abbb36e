import cluster, { type Worker } from 'node:cluster'
import { LocalSessionTable, useSessionTables, type SessionTable } from '../balancing/session-table.ts'
import type { FailureKind } from '../core/endpoint.ts'
import { LocalLeafState, useLeafStates, type LeafState, type LeafStateName, type LeafStateSpec, type LeafStateView } from '../resilience/leaf-state.ts'

/**
 * One gateway, not N workers: the primary of a cluster owns every leaf's state (suspension, health check) and
 * every sticky-session table; workers keep a copy to answer `ready()` without a round trip, report what their
 * requests found, and receive each change. A worker that reports a failure, or binds a new session, waits for
 * the primary's answer before its client gets the response, so the next request, on whichever worker, already
 * sees the change.
 */

type ToPrimary =
  | { type: 'portico:leaf-open'; spec: LeafStateSpec }
  | { type: 'portico:leaf-close'; key: string }
  /** No `kind`: a success. `trialOf`: the request was the trial after the suspension that ended then. */
  | { type: 'portico:leaf-report'; key: string; kind?: FailureKind; trialOf?: number; seq?: number }
  /** The worker granted the trial sent it (`started`), or its client went away before a verdict. */
  | { type: 'portico:leaf-trial'; key: string; trialOf: number; started: boolean }
  | { type: 'portico:leaf-reset'; key: string; reason: string }
  | { type: 'portico:sessions-open'; table: string; timeout: number }
  | { type: 'portico:sessions-close'; table: string }
  | { type: 'portico:sessions-get'; table: string; session: string; seq: number }
  | { type: 'portico:sessions-set'; table: string; session: string; index: number; seq: number }
  /** Sessions used again on their bound child: refreshed in the primary's table, in batches. */
  | { type: 'portico:sessions-touch'; table: string; sessions: Array<[string, number]> }

type ToWorker =
  /** `trialBy`: the one worker that may send the trial request once a suspension ends. */
  | { type: 'portico:leaf-view'; key: string; view: LeafStateView; trialBy?: number }
  | { type: 'portico:sessions-moved'; table: string; session: string; index: number }
  | { type: 'portico:answer'; seq: number; index?: number }

/** How long a worker waits for its primary before it goes on without the answer. */
const ANSWER_TIMEOUT = 1000
/** How often a worker passes on the sessions it used again. */
const TOUCH_INTERVAL = 1000
/** How long after a suspension ends the worker granted its trial has to send it before another worker may. */
const TRIAL_GRACE = 1000

/** Makes this worker keep its endpoint state through the primary. Call before the first snapshot is built. */
export function shareStateWithPrimary(): void {
  const link = new PrimaryLink()
  useLeafStates((spec) => link.openLeaf(spec))
  useSessionTables((table, timeout) => link.openSessions(table, timeout))
  process.on('message', (message: ToWorker) => link.receive(message))
}

class PrimaryLink {
  readonly #leaves = new Map<string, Set<MirroredLeafState>>()
  readonly #tables = new Map<string, Set<MirroredSessionTable>>()
  readonly #waiting = new Map<number, (answer: { index?: number } | undefined) => void>()
  #seq = 0

  send(message: ToPrimary): void {
    // A worker whose primary is gone goes on with its copies until it is stopped.
    if (process.connected) process.send!(message)
  }

  ask(message: ToPrimary & { seq: number }): Promise<{ index?: number } | undefined> {
    return new Promise((resolve) => {
      const timer = setTimeout(() => finish(undefined), ANSWER_TIMEOUT)
      const finish = (answer: { index?: number } | undefined) => {
        clearTimeout(timer)
        this.#waiting.delete(message.seq)
        resolve(answer)
      }
      this.#waiting.set(message.seq, finish)
      this.send(message)
    })
  }

  nextSeq(): number {
    return ++this.#seq
  }

  openLeaf(spec: LeafStateSpec): LeafState {
    const state = new MirroredLeafState(spec.key, this)
    let set = this.#leaves.get(spec.key)
    if (!set) this.#leaves.set(spec.key, (set = new Set()))
    set.add(state)
    this.send({ type: 'portico:leaf-open', spec })
    return state
  }

  closeLeaf(state: MirroredLeafState): void {
    this.#leaves.get(state.key)?.delete(state)
    if (this.#leaves.get(state.key)?.size === 0) this.#leaves.delete(state.key)
    this.send({ type: 'portico:leaf-close', key: state.key })
  }

  openSessions(table: string, timeout: number): SessionTable {
    const mirror = new MirroredSessionTable(table, timeout, this)
    let set = this.#tables.get(table)
    if (!set) this.#tables.set(table, (set = new Set()))
    set.add(mirror)
    this.send({ type: 'portico:sessions-open', table, timeout })
    return mirror
  }

  closeSessions(mirror: MirroredSessionTable): void {
    this.#tables.get(mirror.table)?.delete(mirror)
    if (this.#tables.get(mirror.table)?.size === 0) this.#tables.delete(mirror.table)
    this.send({ type: 'portico:sessions-close', table: mirror.table })
  }

  receive(message: ToWorker): void {
    switch (message?.type) {
      case 'portico:leaf-view':
        for (const state of this.#leaves.get(message.key) ?? []) state.update(message.view, message.trialBy)
        return
      case 'portico:sessions-moved':
        for (const mirror of this.#tables.get(message.table) ?? []) mirror.moved(message.session, message.index)
        return
      case 'portico:answer':
        this.#waiting.get(message.seq)?.({ ...(message.index !== undefined ? { index: message.index } : {}) })
    }
  }
}

/**
 * A worker's copy of a leaf state; the primary's LocalLeafState decides every change. After a suspension, only
 * the worker the primary grants it sends the one trial request, as a process serving alone sends one.
 */
class MirroredLeafState implements LeafState {
  readonly key: string
  readonly #link: PrimaryLink
  #view: LeafStateView = { state: 'active', suspensions: 0 }
  #trialBy: number | undefined
  /** The end of the suspension this worker's trial request is for; the primary counts one verdict per suspension. */
  #trialOf: number | undefined

  constructor(key: string, link: PrimaryLink) {
    this.key = key
    this.#link = link
  }

  get state(): LeafStateName {
    return this.#view.state
  }

  ready(now: number): boolean {
    const { state, retryAt = 0 } = this.#view
    if (state === 'active') return true
    if (state === 'timeout') return now >= retryAt
    return state === 'suspended' && now >= retryAt && this.#trialOf === undefined && this.#trialBy === cluster.worker?.id
  }

  begin(): void {
    if (this.#view.state !== 'suspended' || this.#view.retryAt === undefined) return
    this.#trialOf = this.#view.retryAt
    this.#link.send({ type: 'portico:leaf-trial', key: this.key, trialOf: this.#trialOf, started: true })
  }

  release(): void {
    if (this.#trialOf !== undefined) this.#link.send({ type: 'portico:leaf-trial', key: this.key, trialOf: this.#trialOf, started: false })
    this.#trialOf = undefined
  }

  succeeded(): void {
    this.#trialOf = undefined
    if (this.#view.state === 'active') return
    // As the primary will: this worker need not wait for the news of its own success.
    if (this.#view.state !== 'unhealthy') this.#view = { state: 'active', suspensions: this.#view.suspensions, ...(this.#view.healthCheck ? { healthCheck: this.#view.healthCheck } : {}) }
    this.#link.send({ type: 'portico:leaf-report', key: this.key })
  }

  async failed(kind: FailureKind): Promise<void> {
    const trialOf = this.#trialOf
    await this.#link.ask({ type: 'portico:leaf-report', key: this.key, kind, ...(trialOf !== undefined ? { trialOf } : {}), seq: this.#link.nextSeq() })
    // Only now: until the verdict (a renewed suspension) arrives, no other request may take the failed trial for
    // one that is still to be sent.
    if (this.#trialOf === trialOf) this.#trialOf = undefined
  }

  view(): LeafStateView {
    return this.#view
  }

  reset(reason: string): void {
    this.#link.send({ type: 'portico:leaf-reset', key: this.key, reason })
  }

  update(view: LeafStateView, trialBy: number | undefined): void {
    // A new suspension: a trial still in flight was for the last one, and must not hold this worker back.
    if (view.retryAt !== this.#view.retryAt) this.#trialOf = undefined
    this.#view = view
    this.#trialBy = trialBy
  }

  close(): void {
    this.#link.closeLeaf(this)
  }
}

/** A worker's copy of a session table: answers from memory, asks the primary about sessions it has not seen. */
class MirroredSessionTable implements SessionTable {
  readonly table: string
  readonly #link: PrimaryLink
  readonly #copy: LocalSessionTable
  #touched = new Map<string, number>()
  readonly #timer: NodeJS.Timeout

  constructor(table: string, timeout: number, link: PrimaryLink) {
    this.table = table
    this.#link = link
    this.#copy = new LocalSessionTable(timeout)
    this.#timer = setInterval(() => this.#flush(), TOUCH_INTERVAL).unref()
  }

  get size(): number {
    return this.#copy.size
  }

  get(session: string, now: number): number | undefined | Promise<number | undefined> {
    const index = this.#copy.get(session, now)
    if (index !== undefined) return index
    return this.#link.ask({ type: 'portico:sessions-get', table: this.table, session, seq: this.#link.nextSeq() }).then((answer) => {
      if (answer?.index === undefined) return undefined
      this.#copy.set(session, answer.index, Date.now())
      return answer.index
    })
  }

  set(session: string, index: number, now: number): void | Promise<void> {
    const known = this.#copy.get(session, now) === index
    this.#copy.set(session, index, now)
    if (known) {
      this.#touched.set(session, index)
      return
    }
    return this.#link.ask({ type: 'portico:sessions-set', table: this.table, session, index, seq: this.#link.nextSeq() }).then(() => {})
  }

  /** Another worker bound the session elsewhere (its child was not ready there). */
  moved(session: string, index: number): void {
    this.#copy.set(session, index, Date.now())
  }

  close(): void {
    clearInterval(this.#timer)
    this.#flush()
    this.#copy.close()
    this.#link.closeSessions(this)
  }

  #flush(): void {
    if (this.#touched.size === 0) return
    this.#link.send({ type: 'portico:sessions-touch', table: this.table, sessions: [...this.#touched] })
    this.#touched = new Map()
  }
}

interface Shared<T> {
  value: T
  /** Open references per worker id: the state lives while a worker still uses it. */
  refs: Map<number, number>
}

interface SharedLeaf extends Shared<LocalLeafState> {
  /** The last view sent to the workers, as JSON. */
  sent: string
  /** While suspended: the worker that may send the trial, whether it has, and when to grant it to another. */
  trial?: { of: number; by: number; started: boolean; timer: NodeJS.Timeout }
}

/** The primary's side: the one state of every leaf and the one table of every sticky group, for all workers. */
export class SharedState {
  readonly #workers = new Map<number, Worker>()
  readonly #leaves = new Map<string, SharedLeaf>()
  readonly #tables = new Map<string, Shared<LocalSessionTable>>()

  /** Serves a worker's reports and questions; forgets its references when it exits. */
  attach(worker: Worker): void {
    this.#workers.set(worker.id, worker)
    worker.on('message', (message: ToPrimary) => this.#receive(worker, message))
    worker.once('exit', () => {
      this.#workers.delete(worker.id)
      for (const [key, leaf] of this.#leaves) {
        if (release(leaf, worker.id, true)) this.#closeLeaf(key)
        // Its trial will never be sent, or never answered: another worker may send it.
        else if (leaf.trial?.by === worker.id) this.#grantTrial(key, leaf, 0)
      }
      for (const [table, shared] of this.#tables) if (release(shared, worker.id, true)) this.#tables.delete(table)
    })
  }

  /** Every leaf state the primary holds, by leaf id: what `/admin/endpoints` and tests read. */
  leaves(): Array<{ id: string; view: LeafStateView }> {
    return [...this.#leaves.values()].map((leaf) => ({ id: leaf.value.id, view: leaf.value.view() }))
  }

  /** Puts every leaf named `id` back to active (an operator's reset); how many there were. */
  reset(id: string, reason: string): number {
    let count = 0
    for (const leaf of this.#leaves.values()) {
      if (leaf.value.id !== id) continue
      leaf.value.reset(reason)
      count++
    }
    return count
  }

  close(): void {
    for (const key of [...this.#leaves.keys()]) this.#closeLeaf(key)
    this.#tables.clear()
  }

  #receive(worker: Worker, message: ToPrimary): void {
    switch (message?.type) {
      case 'portico:leaf-open': {
        let leaf = this.#leaves.get(message.spec.key)
        if (!leaf) {
          const state = new LocalLeafState(message.spec)
          leaf = { value: state, refs: new Map(), sent: '' } satisfies SharedLeaf
          this.#leaves.set(message.spec.key, leaf)
          const key = message.spec.key
          state.onChange = () => this.#broadcast(key)
        }
        hold(leaf, worker.id)
        tell(worker, { type: 'portico:leaf-view', key: message.spec.key, view: leaf.value.view(), ...(leaf.trial ? { trialBy: leaf.trial.by } : {}) })
        return
      }
      case 'portico:leaf-trial': {
        const leaf = this.#leaves.get(message.key)
        if (!leaf?.trial || leaf.trial.of !== message.trialOf) return
        leaf.trial.started = message.started
        // The client went away before a verdict: the trial is to be sent again, by whichever worker gets a request.
        if (!message.started) this.#grantTrial(message.key, leaf, 0)
        return
      }
      case 'portico:leaf-reset': {
        this.#leaves.get(message.key)?.value.reset(message.reason)
        return
      }
      case 'portico:leaf-close': {
        const leaf = this.#leaves.get(message.key)
        if (leaf && release(leaf, worker.id)) this.#closeLeaf(message.key)
        return
      }
      case 'portico:leaf-report': {
        const state = this.#leaves.get(message.key)?.value
        if (state) this.#report(state, message)
        // The new state has reached every worker (#broadcast ran inside the report) before this answer does.
        if (message.seq !== undefined) answer(worker, message.seq)
        return
      }
      case 'portico:sessions-open': {
        let shared = this.#tables.get(message.table)
        if (!shared) this.#tables.set(message.table, (shared = { value: new LocalSessionTable(message.timeout), refs: new Map() }))
        hold(shared, worker.id)
        return
      }
      case 'portico:sessions-close': {
        const shared = this.#tables.get(message.table)
        if (shared && release(shared, worker.id)) this.#tables.delete(message.table)
        return
      }
      case 'portico:sessions-get': {
        const index = this.#tables.get(message.table)?.value.get(message.session, Date.now())
        answer(worker, message.seq, index)
        return
      }
      case 'portico:sessions-set': {
        const shared = this.#tables.get(message.table)
        if (shared) {
          const now = Date.now()
          const before = shared.value.get(message.session, now)
          shared.value.set(message.session, message.index, now)
          // Workers that hold the old binding learn the new one; a new binding they ask for when they meet it.
          if (before !== undefined && before !== message.index) {
            for (const id of shared.refs.keys()) {
              const other = this.#workers.get(id)
              if (other && id !== worker.id) tell(other, { type: 'portico:sessions-moved', table: message.table, session: message.session, index: message.index })
            }
          }
        }
        answer(worker, message.seq)
        return
      }
      case 'portico:sessions-touch': {
        const table = this.#tables.get(message.table)?.value
        if (!table) return
        const now = Date.now()
        for (const [session, index] of message.sessions) if (table.get(session, now) === index) table.set(session, index, now)
      }
    }
  }

  #report(state: LocalLeafState, report: { kind?: FailureKind; trialOf?: number }): void {
    if (report.kind === undefined) return state.succeeded()
    // Each worker may send a trial once a suspension ends: the first verdict on that suspension counts, later ones
    // (their trial was for a suspension that has since been renewed) change nothing, as a non-trial failure.
    if (report.trialOf !== undefined && state.state === 'suspended' && state.retryAt === report.trialOf) state.begin()
    state.failed(report.kind, Date.now())
  }

  #broadcast(key: string): void {
    const leaf = this.#leaves.get(key)
    if (!leaf) return
    const view = leaf.value.view()
    const suspendedUntil = view.state === 'suspended' ? view.retryAt : undefined
    if (suspendedUntil === undefined) {
      clearTimeout(leaf.trial?.timer)
      delete leaf.trial
    } else if (leaf.trial?.of !== suspendedUntil) {
      return this.#grantTrial(key, leaf, suspendedUntil + TRIAL_GRACE - Date.now())
    }
    this.#send(key, leaf, view)
  }

  /**
   * Grants the trial after the current suspension to the next worker in turn, and again to the next one when the
   * granted worker has sent none `TRIAL_GRACE` after the suspension ended (no request for it reached that worker).
   */
  #grantTrial(key: string, leaf: SharedLeaf, regrantIn: number): void {
    const of = leaf.value.retryAt
    if (leaf.value.state !== 'suspended' || of === undefined) return
    const workers = [...leaf.refs.keys()]
    const next = workers[(workers.indexOf(leaf.trial?.by ?? -1) + 1) % workers.length]
    if (next === undefined) return
    clearTimeout(leaf.trial?.timer)
    const timer = setTimeout(() => {
      if (this.#leaves.get(key) === leaf && leaf.trial?.of === of && !leaf.trial.started) this.#grantTrial(key, leaf, TRIAL_GRACE)
    }, Math.max(regrantIn, TRIAL_GRACE)).unref()
    leaf.trial = { of, by: next, started: false, timer }
    this.#send(key, leaf, leaf.value.view())
  }

  #send(key: string, leaf: SharedLeaf, view: LeafStateView): void {
    const trialBy = leaf.trial?.by
    const sent = JSON.stringify([view, trialBy])
    if (sent === leaf.sent) return
    leaf.sent = sent
    for (const id of leaf.refs.keys()) {
      const worker = this.#workers.get(id)
      if (worker) tell(worker, { type: 'portico:leaf-view', key, view, ...(trialBy !== undefined ? { trialBy } : {}) })
    }
  }

  #closeLeaf(key: string): void {
    clearTimeout(this.#leaves.get(key)?.trial?.timer)
    this.#leaves.get(key)?.value.close()
    this.#leaves.delete(key)
  }
}

function hold(shared: Shared<unknown>, worker: number): void {
  shared.refs.set(worker, (shared.refs.get(worker) ?? 0) + 1)
}

/** Drops one reference (or all of a worker's); true when no worker holds the state any more. */
function release(shared: Shared<unknown>, worker: number, all = false): boolean {
  const count = (shared.refs.get(worker) ?? 0) - 1
  if (all || count <= 0) shared.refs.delete(worker)
  else shared.refs.set(worker, count)
  return shared.refs.size === 0
}

function answer(worker: Worker, seq: number, index?: number): void {
  tell(worker, { type: 'portico:answer', seq, ...(index !== undefined ? { index } : {}) })
}

/** A worker that is exiting has no channel; sending to it would raise an error nobody handles. */
function tell(worker: Worker, message: ToWorker): void {
  if (worker.isConnected()) worker.send(message)
}
