import { errors, Pool, type Dispatcher } from 'undici'

/**
 * An undici Pool that gives up on a response when its `headersTimeout` is over, counted from the moment the
 * whole request was written.
 *
 * undici keeps that timeout on a coarse clock of its own (one tick every 499 ms, cheap to refresh per request),
 * so it fired up to half a second late or more: a 1 s timeout after 1.0 to 1.5 s, a 400 ms one after 0.5 to
 * 1 s. A group that waits on a hung backend before it tries the next one waited that much longer. This pool
 * keeps the same timeout exactly as well; undici's own stays in place, since it also restarts while a slow
 * backend reads a streamed request body.
 *
 * One timer per pool, not one per request: every request of the pool waits as long, so the requests waiting for
 * headers, in the order they were sent, are also in the order of their deadlines. They are kept in a linked list
 * (a request that is answered leaves it at once), and the timer is set for the oldest one's deadline.
 */
export class ResponseTimeoutPool extends Pool {
  readonly #timeout: number
  /** The requests sent and waiting for response headers, oldest first. */
  #oldest: ResponseDeadline | undefined
  #newest: ResponseDeadline | undefined
  #timer: NodeJS.Timeout | undefined

  constructor(origin: string, options: Pool.Options) {
    super(origin, options)
    // undici's default when none is given.
    this.#timeout = options.headersTimeout ?? 300_000
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    // A request with a timeout of its own (none of the gateway's) keeps undici's; a handler of undici's newer
    // interface (onRequestStart...) is passed as it is: `request()` makes none.
    if (this.#timeout <= 0 || options.headersTimeout != null || 'onRequestStart' in handler) return super.dispatch(options, handler)
    return super.dispatch(options, new ResponseDeadline(handler as CallbackHandler, this) as unknown as Dispatcher.DispatchHandler)
  }

  /** `deadline`'s request was written: it waits for headers from now on. */
  waiting(deadline: ResponseDeadline): void {
    deadline.at = performance.now() + this.#timeout
    deadline.older = this.#newest
    if (this.#newest) this.#newest.newer = deadline
    else this.#oldest = deadline
    this.#newest = deadline
    // A timer already set fires at or before this deadline: it was set for an older request.
    // unref: a waiting request's socket keeps the process alive meanwhile.
    this.#timer ??= setTimeout(this.#expire, this.#timeout).unref()
  }

  /** `deadline`'s request no longer waits: answered, failed or aborted. */
  done(deadline: ResponseDeadline): void {
    if (deadline.at === 0) return
    deadline.at = 0
    const { older, newer } = deadline
    if (older) older.newer = newer
    else this.#oldest = newer
    if (newer) newer.older = older
    else this.#newest = older
    deadline.older = deadline.newer = undefined
  }

  /** Aborts every request whose deadline is over, and sets the timer for the oldest of the others. */
  readonly #expire = (): void => {
    this.#timer = undefined
    const now = performance.now()
    let oldest
    while ((oldest = this.#oldest) !== undefined && oldest.at <= now) {
      this.done(oldest)
      oldest.abort(new errors.HeadersTimeoutError())
    }
    if (oldest) this.#timer = setTimeout(this.#expire, Math.ceil(oldest.at - now)).unref()
  }
}

/**
 * The callbacks undici calls on a handler without `onRequestStart` (its `core/request.js`), as `request()`'s
 * handler has them; undici's type declarations describe its newer interface only.
 */
interface CallbackHandler {
  onConnect?(abort: (error?: Error) => void, context?: object): void
  onBodySent?(chunk: Buffer): void
  onRequestSent?(): void
  onResponseStarted?(): void
  onHeaders?(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean
  onData?(chunk: Buffer): boolean
  onComplete?(trailers: Buffer[] | null): void
  onError?(error: Error): void
  onUpgrade?(statusCode: number, headers: Buffer[] | null, socket: unknown): void
}

/**
 * Passes every call on to the request's own handler, and tells the pool when the request starts and stops
 * waiting for response headers. undici calls it as it is, since it has no `onRequestStart`.
 */
class ResponseDeadline implements CallbackHandler {
  readonly #handler: CallbackHandler
  readonly #pool: ResponseTimeoutPool
  /** undici's abort of this request, once it is on a connection. */
  abort: (error?: Error) => void = ignore
  /** When the request has waited too long (`performance.now()`); 0 while it is not waiting. */
  at = 0
  older: ResponseDeadline | undefined = undefined
  newer: ResponseDeadline | undefined = undefined

  constructor(handler: CallbackHandler, pool: ResponseTimeoutPool) {
    this.#handler = handler
    this.#pool = pool
  }

  onConnect(abort: (error?: Error) => void, context?: object): void {
    this.abort = abort
    this.#handler.onConnect?.(abort, context)
  }

  onBodySent(chunk: Buffer): void {
    this.#handler.onBodySent?.(chunk)
  }

  onRequestSent(): void {
    this.#pool.waiting(this)
    this.#handler.onRequestSent?.()
  }

  onResponseStarted(): void {
    this.#handler.onResponseStarted?.()
  }

  onHeaders(statusCode: number, headers: Buffer[], resume: () => void, statusText: string): boolean {
    // An informational (1xx) response is not the answer: the final one is still due.
    if (statusCode >= 200) this.#pool.done(this)
    return this.#handler.onHeaders!(statusCode, headers, resume, statusText)
  }

  onData(chunk: Buffer): boolean {
    return this.#handler.onData!(chunk)
  }

  onComplete(trailers: Buffer[] | null): void {
    this.#pool.done(this)
    this.#handler.onComplete!(trailers)
  }

  onError(error: Error): void {
    this.#pool.done(this)
    this.#handler.onError!(error)
  }

  onUpgrade(statusCode: number, headers: Buffer[] | null, socket: unknown): void {
    this.#pool.done(this)
    this.#handler.onUpgrade!(statusCode, headers, socket)
  }
}

function ignore(): void {}
